// Plain AMQP clients (rhea) of routers under test.
import rhea, { type Connection } from 'rhea';
import { afterAll } from 'vitest';

/**
 * Connects clients to routers on 127.0.0.1. Every connection it makes is closed
 * after all tests of the file (call it after the file's own afterAll, so that
 * the clients go before the routers stop).
 */
export function useAmqpClients(): (port: number, name: string) => Connection {
  const open: Connection[] = [];
  afterAll(() => {
    for (const connection of open) connection.close();
  });
  return (port, name) => {
    const connection = rhea.create_container({ id: `client-of-${name}-${Math.random().toString(36).slice(2)}` }).connect({
      host: '127.0.0.1',
      port,
      reconnect: false,
      // Outcomes as the router sent them: by default rhea reports "modified" as "released".
      treat_modified_as_released: false,
    } as never);
    connection.on('disconnected', () => undefined);
    open.push(connection);
    return connection;
  };
}

/** Opens a receiver that collects message bodies into `got`; resolves once the router has attached it. */
export async function collectMessages(connection: Connection, address: string, got: string[]): Promise<void> {
  const receiver = connection.open_receiver({ source: { address }, credit_window: 100 });
  receiver.on('message', (context) => got.push(String(context.message?.body)));
  await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
}

/** Drops the client's socket without closing its links or its connection, as a client that crashed would. */
export function dropSocket(connection: Connection): void {
  (connection as unknown as { socket: { destroy(): void } }).socket.destroy();
}
