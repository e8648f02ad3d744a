// Peers that misbehave at the byte level, against one real router process:
//
//   raw TCP client --> R: listener "amqp" (AMQP), "http" (HTTP + WebSocket), "plain-http" (HTTP, websockets off)
//
// Each case does one bad thing (garbage for a protocol header, a malformed
// frame, a reset in the middle of a refusal or a handshake), and the router
// must still be there afterwards and serve the next client of each kind. The
// crash check (helpers/crash-watch.ts) fails a case whose bad thing killed it.
import net from 'node:net';
import rhea from 'rhea';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort, RouterProcess, useRouters, waitFor } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('bad-peers');
const routers = useRouters();
const ports = { amqp: 0, http: 0, plainHttp: 0 };

beforeAll(async () => {
  ports.amqp = await freePort();
  ports.http = await freePort();
  ports.plainHttp = await freePort();
  const router = await RouterProcess.start(folder.path, 'R', [
    ['router', { id: 'bad-peers' }],
    ['listener', { name: 'amqp', host: '127.0.0.1', port: ports.amqp }],
    ['listener', { name: 'http', host: '127.0.0.1', port: ports.http, http: true }],
    ['listener', { name: 'plain-http', host: '127.0.0.1', port: ports.plainHttp, http: true, websockets: false }],
  ]);
  routers.push(router);
  await waitFor('three listeners', () => router.lines.filter((line) => line.msg.includes('listening')).length === 3 || undefined);
});

/** Connects, writes `bytes`, then resets the connection at once or closes it after the router had a moment to answer. */
function poke(port: number, bytes: Buffer | string, end: 'reset' | 'close'): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (end === 'reset') socket.resetAndDestroy();
      else setTimeout(() => socket.destroy(), 200);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);
/** An AMQP frame (size 20, doff 2, type 0) whose "open" performative claims a list longer than the frame. */
const TRUNCATED_OPEN = Buffer.from([0, 0, 0, 20, 2, 0, 0, 0, 0, 0x53, 0x10, 0xc0, 0x08, 0x01, 0xa1, 0x05, 0x41, 0x42, 0x43, 0x44]);
const UPGRADE = [
  'GET / HTTP/1.1',
  'Host: router',
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
  'Sec-WebSocket-Protocol: amqp',
  '',
  '',
].join('\r\n');

async function healthz(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status;
}

/** An AMQP client gets the router's open. */
function amqpOpens(): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = rhea.create_container({ id: `next-client-${Math.random()}` }).connect({ host: '127.0.0.1', port: ports.amqp, reconnect: false });
    connection.on('connection_open', () => {
      connection.close();
      resolve(true);
    });
    connection.on('disconnected', () => resolve(false));
  });
}

/** A WebSocket upgrade to the AMQP subprotocol is accepted (101). */
function upgradeAccepted(): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(ports.http, '127.0.0.1', () => socket.write(UPGRADE));
    socket.once('data', (chunk: Buffer) => {
      resolve(chunk.toString('latin1').split('\r\n')[0]!);
      socket.destroy();
    });
    socket.on('error', (error) => resolve(String(error)));
  });
}

describe('a router and peers that misbehave', () => {
  it.each([
    ['AMQP: not a protocol header', () => poke(ports.amqp, 'hello there\r\n', 'close')],
    ['AMQP: a frame where the SASL layer was announced', () => poke(ports.amqp, Buffer.concat([SASL_HEADER, Buffer.alloc(64, 0xff)]), 'close')],
    ['AMQP: an open frame shorter than it says', () => poke(ports.amqp, Buffer.concat([AMQP_HEADER, TRUNCATED_OPEN]), 'close')],
    ['AMQP: a bad frame, then a reset', () => poke(ports.amqp, Buffer.concat([AMQP_HEADER, TRUNCATED_OPEN]), 'reset')],
    ['WebSocket: refused (websockets off), the client resets meanwhile', () => poke(ports.plainHttp, UPGRADE, 'reset')],
    ['WebSocket: upgrade, then a reset during the handshake', () => poke(ports.http, UPGRADE, 'reset')],
    ['WebSocket: an unmasked client frame', () => poke(ports.http, Buffer.concat([Buffer.from(UPGRADE), Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63])]), 'close')],
    ['WebSocket: a frame with an unknown opcode', () => poke(ports.http, Buffer.concat([Buffer.from(UPGRADE), Buffer.from([0x8f, 0x80, 1, 2, 3, 4])]), 'close')],
    ['WebSocket: a masked binary frame of AMQP garbage, then a reset', () => poke(ports.http, Buffer.concat([Buffer.from(UPGRADE), Buffer.from([0x82, 0x88, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8])]), 'reset')],
    ['HTTP: a body cut off by a reset', () => poke(ports.http, 'POST /healthz HTTP/1.1\r\nHost: router\r\nContent-Length: 100\r\n\r\nabc', 'reset')],
    ['HTTP: not HTTP', () => poke(ports.http, 'BOGUS\r\n\r\n', 'close')],
  ])('%s: the router serves the next AMQP, HTTP and WebSocket client', async (_what, misbehave) => {
    // A few times over: a race in the router's handling shows up in one round of several.
    for (let round = 0; round < 5; round++) await misbehave();
    expect(await healthz()).toBe(200);
    expect(await amqpOpens()).toBe(true);
    expect(await upgradeAccepted()).toBe('HTTP/1.1 101 Switching Protocols');
  });
});
