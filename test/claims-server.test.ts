// The claims endpoint (HTTPS, in this process) and clients that go away at
// the wrong moment: in the middle of the body, while the claim is being
// redeemed, in the TLS handshake. Each time the endpoint must stay up, say
// nothing at error level about a client that left, and answer the next one.
// An error it did not handle would end this test process (vitest reports it).
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { Server } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClaimsServer } from '../site-controller/token/claims-server.js';
import { DEFAULT_GUESS_LIMITS, GuessLimiter } from '../site-controller/token/guess-limit.js';
import { freePort } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('claims-server', { withPki: true });
const logged: { level: number; msg: string }[] = [];
let server: Server;
let port: number;
let redeemed = 0;

const CLAIM = JSON.stringify({ password: 'p', site: { id: 'east-1', name: 'east', mode: 'interior' }, publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n' });

beforeAll(async () => {
  port = await freePort();
  const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });
  server = await startClaimsServer({
    host: '127.0.0.1',
    port,
    certPem: await readFile(folder.pki.serverCert, 'utf8'),
    keyPem: await readFile(folder.pki.serverKey, 'utf8'),
    log,
    // Every claim here is refused (403): guessing limits (claims-guess-limit.test.ts) would lock this client out.
    guessLimiter: new GuessLimiter(log, { ...DEFAULT_GUESS_LIMITS, freeFailures: 1_000 }),
    // Slow on purpose: a client can leave while its claim is looked at.
    redeem: async () => {
      redeemed++;
      await sleep(200);
      return { ok: false, status: 403, reason: 'no such token' };
    },
  });
});
afterAll(() => {
  server?.close();
  server?.closeAllConnections();
});

/** A whole request; resolves with the status and body. */
function post(body: string, path = '/claims/t1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** A TLS connection that sends `head` and then is reset `afterMs` later. */
function sendThenReset(head: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      socket.write(head);
      setTimeout(() => {
        (socket as unknown as { _parent?: net.Socket })._parent?.resetAndDestroy?.();
        socket.destroy();
      }, afterMs);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

const errorsLogged = () => logged.filter((line) => line.level >= 50).map((line) => line.msg);

describe('claims endpoint and clients that go away', () => {
  it.each([
    ['in the middle of the body', () => sendThenReset('POST /claims/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"password":', 50)],
    ['while its claim is being redeemed', () => sendThenReset(`POST /claims/t1 HTTP/1.1\r\nHost: x\r\nContent-Length: ${CLAIM.length}\r\n\r\n${CLAIM}`, 50)],
    ['in the TLS handshake', () => new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x50, 0x01]));
        socket.resetAndDestroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    })],
    ['after speaking plain HTTP to it', () => new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('POST /claims/t1 HTTP/1.1\r\n\r\n'));
      socket.on('error', () => undefined);
      socket.on('data', () => socket.destroy());
      socket.on('close', () => resolve());
      setTimeout(() => socket.destroy(), 500);
    })],
  ])('a client that leaves %s: the endpoint answers the next one, and logs no error', async (_when, leave) => {
    const before = redeemed;
    for (let round = 0; round < 3; round++) await leave();
    // Let a redeem in progress finish and try to answer the client that left.
    await sleep(300);
    expect(await post('not json')).toEqual({ status: 400, body: JSON.stringify({ error: 'the body is not JSON' }) });
    expect(await post(CLAIM)).toEqual({ status: 403, body: JSON.stringify({ error: 'no such token' }) });
    expect(redeemed).toBeGreaterThan(before);
    expect(errorsLogged()).toEqual([]);
  });
});
