// Password guessing at a real claims endpoint (HTTPS, in this process), from
// several source addresses on loopback (127.0.0.2 and up: Linux routes all of
// 127/8 to lo). Limits of the test: 3 free failures, then a lock of 2 s that
// doubles. The redeem behind it knows claim "c" with password "right-password".
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { Server } from 'node:https';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimResponse } from '../site-controller/token/claims.js';
import { startClaimsServer } from '../site-controller/token/claims-server.js';
import { GuessLimiter, sourceKey } from '../site-controller/token/guess-limit.js';
import { freePort } from './helpers/router-process.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('guess-limit', { withPki: true });
const RIGHT = 'right-password';
const logged: Record<string, unknown>[] = [];
let server: Server;
let port: number;
let redeemed = 0;

const FAKE_RESPONSE: ClaimResponse = { caPem: 'ca', certPem: 'cert', site: { id: 'w', name: 'west' }, interRouter: { host: 'h', port: 1 }, edge: { host: 'h', port: 2 } };

beforeAll(async () => {
  port = await freePort();
  const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  server = await startClaimsServer({
    host: '127.0.0.1',
    port,
    certPem: await readFile(folder.pki.serverCert, 'utf8'),
    keyPem: await readFile(folder.pki.serverKey, 'utf8'),
    log,
    guessLimiter: new GuessLimiter(log, { freeFailures: 3, baseLockMs: 2_000, maxLockMs: 8_000, forgetAfterMs: 60_000, maxEntries: 100 }),
    redeem: async (name, claim) => {
      redeemed++;
      if (name !== 'c' && name !== 'other') return { ok: false, status: 404, reason: `no such claim at site "west"` };
      return claim.password === RIGHT ? { ok: true, response: FAKE_RESPONSE } : { ok: false, status: 403, reason: 'wrong password' };
    },
  });
});
afterAll(() => {
  server?.close();
  server?.closeAllConnections();
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly error: unknown;
}

/** POSTs a claim for `name` with `password` from the source address `from`. */
function claim(from: string, name: string, password: string): Promise<Answer> {
  const body = JSON.stringify({ password, site: { id: 'east-1', name: 'east', mode: 'interior' }, publicKeyPem: 'k' });
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port, localAddress: from, path: `/claims/${name}`, method: 'POST', rejectUnauthorized: false, agent: false, headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], error: (JSON.parse(text) as { error?: unknown }).error }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const refusalLogs = () => logged.filter((line) => typeof line.msg === 'string' && line.msg.includes('refusing'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('claims endpoint: password guessing', () => {
  it('per claim: after 3 wrong passwords the 4th locks the claim (429, Retry-After), the lock grows, and the password is not even tried meanwhile', async () => {
    const attacker = '127.0.0.2';
    for (let i = 0; i < 4; i++) expect((await claim(attacker, 'c', `guess-${i}`)).status).toBe(403);
    const before = redeemed;
    const refused = await claim(attacker, 'c', RIGHT);
    expect(refused).toMatchObject({ status: 429, error: expect.stringMatching(/^too many failed claims from 127\.0\.0\.2: try again in [12] s$/) });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(2);
    // Refused before the password is looked at.
    expect(redeemed).toBe(before);
    const firstLock = refusalLogs().at(-1)!;
    expect(firstLock.lockedForMs).toBeGreaterThan(1_000);
    expect(firstLock.lockedForMs).toBeLessThanOrEqual(2_000);
    // After the lock, one more wrong guess locks it for twice as long.
    await sleep(Number(refused.retryAfter) * 1000 + 100);
    expect((await claim(attacker, 'c', 'guess-5')).status).toBe(403);
    expect((await claim(attacker, 'c', RIGHT)).status).toBe(429);
    const secondLock = refusalLogs().at(-1)!;
    expect(secondLock.lockedForMs).toBeGreaterThan(3_000);
    expect(secondLock.lockedForMs).toBeLessThanOrEqual(4_000);
  });

  it("a source with no failures redeems a claim locked by another source's guesses; one with failures is held back by the claim's lock", async () => {
    // The claim "c" is locked for ~4 s by the test before; 127.0.0.2 is locked too.
    expect(await claim('127.0.0.3', 'c', RIGHT)).toMatchObject({ status: 200 });
    // A source with one failure on record, on another claim, is held back by the claim's lock.
    expect((await claim('127.0.0.4', 'nope', 'x')).status).toBe(404);
    expect(await claim('127.0.0.4', 'c', RIGHT)).toMatchObject({ status: 429, error: expect.stringMatching(/^too many failed attempts on claim "c": try again in \d s$/) });
  });

  it('per source: one source failing across many claims is locked for every claim; other sources are not', async () => {
    const scanner = '127.0.0.5';
    for (let i = 0; i < 4; i++) expect((await claim(scanner, `name-${i}`, 'x')).status).toBe(404);
    expect(await claim(scanner, 'other', RIGHT)).toMatchObject({ status: 429, error: expect.stringMatching(/^too many failed claims from 127\.0\.0\.5/) });
    expect((await claim('127.0.0.6', 'other', RIGHT)).status).toBe(200);
  });

  it('refusals are logged once per lock, and no log line holds a password', async () => {
    const attacker = '127.0.0.7';
    for (let i = 0; i < 4; i++) await claim(attacker, 'other', `guess-${i}`);
    const before = refusalLogs().length;
    for (let i = 0; i < 10; i++) expect((await claim(attacker, 'other', `guess-more-${i}`)).status).toBe(429);
    expect(refusalLogs().length - before).toBe(1);
    expect(refusalLogs().at(-1)).toMatchObject({ level: 40, remote: attacker, claim: 'other', failures: 4 });
    const all = JSON.stringify(logged);
    expect(all).not.toContain('guess-');
    expect(all).not.toContain(RIGHT);
  });
});

describe('sourceKey', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0DB8:0001:0002::', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (remote, key) => {
    expect(sourceKey(remote)).toBe(key);
  });
});
