// TCP ends for tunnel tests: deterministic pseudo-random byte streams (AES-CTR
// keystream, fast and reproducible), senders and receivers that hash every
// byte, and small backend servers.
import { createCipheriv, createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll } from 'vitest';

const CHUNK = 64 * 1024;

/** A reproducible stream of `total` pseudo-random bytes, chunk by chunk. */
export function* pseudoRandomChunks(seed: number, total: number, chunkSize = CHUNK): Generator<Buffer> {
  const key = createHash('sha256').update(`kskup-test-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  for (let sent = 0; sent < total; sent += chunkSize) {
    const size = Math.min(chunkSize, total - sent);
    yield cipher.update(size === chunkSize ? zeros : zeros.subarray(0, size));
  }
}

export function sha256Of(seed: number, total: number): string {
  const hash = createHash('sha256');
  for (const chunk of pseudoRandomChunks(seed, total)) hash.update(chunk);
  return hash.digest('hex');
}

/** Writes the stream with backpressure; ends the write side when `end` is set. Resolves with the sha256 of what was written. */
export function sendStream(socket: net.Socket, seed: number, total: number, end = true): Promise<string> {
  const hash = createHash('sha256');
  const chunks = pseudoRandomChunks(seed, total);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) {
          if (end) socket.end();
          resolve(hash.digest('hex'));
          return;
        }
        hash.update(next.value);
        if (!socket.write(next.value)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

export interface Received {
  bytes: number;
  sha256: string;
}

/** Hashes everything the socket delivers until its peer ends the stream. */
export function receiveAll(socket: net.Socket): Promise<Received> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    socket.once('error', reject);
  });
}

/**
 * Sends the stream and receives everything the peer sends back until it ends,
 * both at once: a reset fails the caller once, with no unhandled rejection left
 * behind on the other half.
 */
export async function exchangeStream(socket: net.Socket, seed: number, total: number): Promise<{ sent: string; got: Received }> {
  const [got, sent] = await Promise.all([receiveAll(socket), sendStream(socket, seed, total)]);
  return { sent, got };
}

export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * One client of a service that may refuse it (a rate limit, a policy): sends
 * `bytes` pseudo-random bytes of `seed` and its FIN, and answers 'served' when
 * they come back byte for byte, or 'refused' when the connection is refused,
 * or reset or closed for writing before any byte came back. Anything else
 * (other bytes, part of them, another error) throws.
 */
export async function echoOrRefused(port: number, seed: number, bytes: number): Promise<'served' | 'refused'> {
  const socket = await connect(port).catch(() => undefined);
  if (!socket) return 'refused';
  let got = 0;
  socket.on('data', (chunk: Buffer) => (got += chunk.length));
  try {
    const { sent, got: received } = await exchangeStream(socket, seed, bytes);
    if (received.sha256 !== sent) throw new Error(`echo on port ${port}: ${received.bytes} bytes came back, not the ${bytes} sent`);
    return 'served';
  } catch (error) {
    socket.destroy();
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === 'ECONNRESET' || code === 'EPIPE') && got === 0) return 'refused';
    throw error;
  }
}

export interface TestServer {
  readonly port: number;
  readonly server: net.Server;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 port 0 whose connections are handed to `onConnection`; half-open allowed. */
export async function startServer(onConnection: (socket: net.Socket) => void): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte; ends its side when the client ends. */
export function startEchoServer(): Promise<TestServer> {
  return startServer((socket) => socket.pipe(socket));
}

/**
 * Opens a connection without waiting for it and reports how it ended. A router
 * that resets a client at once can do so before the client's 'connect' event
 * is seen, so tests of fast refusals must not require a completed connect.
 */
export function openAndWatchEnd(port: number, host = '127.0.0.1'): { socket: net.Socket; ended: Promise<{ code?: string; afterMs: number }> } {
  const started = Date.now();
  const socket = net.connect({ port, host, allowHalfOpen: true });
  const ended = new Promise<{ code?: string; afterMs: number }>((resolve) => {
    let code: string | undefined;
    socket.on('error', (error: NodeJS.ErrnoException) => (code ??= error.code));
    socket.once('close', () => resolve({ code, afterMs: Date.now() - started }));
  });
  return { socket, ended };
}

/**
 * How a socket's stream ends: 'end' (the peer's FIN), 'error CODE' (a reset or
 * other error) or 'closed' (neither). libuv reports a reset that finds unread
 * bytes in the socket as an end of stream (see router/tcp/peer-end.ts), so an
 * 'end' is checked with a zero-length write, which fails on a reset
 * connection; without that a test would take a reset for a clean end, and,
 * with half-open sockets, wait forever for a close.
 */
export function howItEnds(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    socket.once('close', () => resolve('closed'));
    socket.once('end', () => {
      if (socket.writableEnded || socket.destroyed) return resolve('end');
      socket.write(Buffer.alloc(0), (error) => {
        if (!error) resolve('end');
      });
    });
  });
}

/** An echo server for a whole test file: started before its tests, closed after them. */
export function useEchoServer(): { readonly port: number } {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startEchoServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get port() {
      if (!server) throw new Error('useEchoServer: not started yet (use it in tests or beforeAll)');
      return server.port;
    },
  };
}

/** An echo server that first says who it is (`name` and a newline), so a client can tell which target it reached. */
export function startNamedEcho(name: string): Promise<TestServer> {
  return startServer((socket) => {
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
}

/** Connects, reads the backend's name line; the socket stays open, and what comes after the line is collected in `rest`. A client error rejects. */
export async function openNamed(port: number): Promise<{ name: string; socket: net.Socket; rest: Buffer[] }> {
  const socket = await connect(port);
  const rest: Buffer[] = [];
  const name = await new Promise<string>((resolve, reject) => {
    let text = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      text = Buffer.concat([text, chunk]);
      const end = text.indexOf(10);
      if (end < 0) return;
      socket.off('data', onData);
      rest.push(text.subarray(end + 1));
      socket.on('data', (more: Buffer) => rest.push(more));
      resolve(text.subarray(0, end).toString());
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the backend said its name')));
  });
  return { name, socket, rest };
}

/** The name of the backend a new connection to `port` reaches (startNamedEcho); the connection is then ended. */
export async function whoAnswers(port: number): Promise<string> {
  const { name, socket } = await openNamed(port);
  socket.end();
  return name;
}
