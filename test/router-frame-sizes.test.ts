// TCP flows over inter-router connections of every frame size, and through a
// relay between connections whose frame sizes differ:
//
//   client --> A ==(frames of F_AB each way)==> B ==(frames of F_BC)==> C --> echo
//
// A flow's bytes travel as data sections of at most one frame's worth
// (flow-protocol.ts messageChunkBytes) written uncopied behind their frame
// header (amqp/frame-output.ts); a message larger than the next hop's frames
// (at B, from a 64 KiB connection onto a 512-byte one) is cut into frames by
// rhea through DataSection.slice and put together at C. Every byte is checked
// both ways, with writes of every size from 1 byte to 200 KiB.
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, metric, RouterProcess, routerLogsOnFailure, useRouters, waitFor, type Entity } from './helpers/router-process.js';
import { connect, pseudoRandomChunks, startEchoServer, type TestServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('frame-sizes');
const routers = useRouters();
routerLogsOnFailure(() => routers);
let echo: TestServer | undefined;
afterAll(() => echo?.close());

/**
 * Writes `total` pseudo-random bytes in writes whose sizes cycle through
 * `sizes`, and hashes what comes back until the peer ends: the writes land in
 * the router's socket reads at every size around a frame's capacity.
 */
async function echoInOddSizes(port: number, seed: number, total: number, sizes: readonly number[]): Promise<{ sent: string; got: string; gotBytes: number }> {
  const socket = await connect(port);
  const source = Buffer.concat([...pseudoRandomChunks(seed, total)]);
  const sent = createHash('sha256').update(source).digest('hex');
  const received = createHash('sha256');
  let gotBytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      gotBytes += chunk.length;
      received.update(chunk);
    });
    socket.once('end', () => resolve());
    socket.once('error', reject);
  });
  let offset = 0;
  for (let i = 0; offset < total; i++) {
    const size = sizes[i % sizes.length]!;
    const piece = source.subarray(offset, Math.min(offset + size, total));
    offset += piece.length;
    if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
  await done;
  return { sent, got: received.digest('hex'), gotBytes };
}

/** Sizes just under, at and over the capacities of 512-, 16 KiB- and 64 KiB-frames, and odd ones. */
const WRITE_SIZES = [1, 7, 453, 454, 455, 511, 512, 513, 4_096, 16_325, 16_326, 16_384, 65_476, 65_477, 65_478, 65_536, 65_537, 200_000, 3];

const inter = (name: string, port: number, maxFrameSize: number): Entity => ['listener', { name, role: 'inter-router', host: '127.0.0.1', port, maxFrameSize }];
const dial = (name: string, port: number, maxFrameSize: number): Entity => ['connector', { name, role: 'inter-router', host: '127.0.0.1', port, maxFrameSize }];

describe('flows over connections of every frame size', () => {
  for (const [ab, bc] of [
    [512, 512],
    [16_384, 65_536],
    [65_536, 512],
    [1_000_000, 16_384],
  ] as const) {
    it(`A==B frames of ${ab}, B==C frames of ${bc}: 1 MiB each way on two flows, every byte back`, { timeout: 60_000 }, async () => {
      echo ??= await startEchoServer();
      const [ab1, bc1, http, listen] = [await freePort(), await freePort(), await freePort(), await freePort()];
      const tag = `${ab}-${bc}`;
      const a = await RouterProcess.start(folder.path, `A-${tag}`, [
        ['router', { id: `A-${tag}`, mode: 'interior' }],
        inter('from-b', ab1, ab),
        ['listener', { name: 'http', host: '127.0.0.1', port: http, http: true }],
        ['tcpListener', { name: 'echo', host: '127.0.0.1', port: listen, address: `echo-${tag}` }],
      ]);
      const b = await RouterProcess.start(folder.path, `B-${tag}`, [
        ['router', { id: `B-${tag}`, mode: 'interior' }],
        dial('to-a', ab1, ab),
        inter('from-c', bc1, bc),
      ]);
      const c = await RouterProcess.start(folder.path, `C-${tag}`, [
        ['router', { id: `C-${tag}`, mode: 'interior' }],
        dial('to-b', bc1, bc),
        ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: `echo-${tag}` }],
      ]);
      routers.push(a, b, c);
      await waitFor(`A to route echo-${tag} to C`, async () => ((await metric(http, `kskup_tcp_listener_routes{address="echo-${tag}"}`).catch(() => undefined)) === 1 ? true : undefined), 20_000);

      const total = 1024 * 1024;
      const results = await Promise.all([1, 2].map((seed) => echoInOddSizes(listen, seed, total, WRITE_SIZES)));
      for (const result of results) {
        expect(result.gotBytes).toBe(total);
        expect(result.got).toBe(result.sent);
      }
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    });
  }
});

// The listener side's own socket: a plain write of exactly one frame's capacity
// and one byte more, at the default frame size, goes through a single hop too.
describe('one hop, default frame size', () => {
  it('A==B with default frames: writes around 16 KiB, every byte back', { timeout: 30_000 }, async () => {
    echo ??= await startEchoServer();
    const [link, http, listen] = [await freePort(), await freePort(), await freePort()];
    const a = await RouterProcess.start(folder.path, 'A-default', [
      ['router', { id: 'A-default', mode: 'interior' }],
      ['listener', { name: 'from-b', role: 'inter-router', host: '127.0.0.1', port: link }],
      ['listener', { name: 'http', host: '127.0.0.1', port: http, http: true }],
      ['tcpListener', { name: 'echo', host: '127.0.0.1', port: listen, address: 'echo-default' }],
    ]);
    const b = await RouterProcess.start(folder.path, 'B-default', [
      ['router', { id: 'B-default', mode: 'interior' }],
      ['connector', { name: 'to-a', role: 'inter-router', host: '127.0.0.1', port: link }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo-default' }],
    ]);
    routers.push(a, b);
    await waitFor('A to route echo-default to B', async () => ((await metric(http, 'kskup_tcp_listener_routes{address="echo-default"}').catch(() => undefined)) === 1 ? true : undefined), 15_000);
    const result = await echoInOddSizes(listen, 9, 1024 * 1024, [16_324, 16_325, 16_326, 16_327, 32_650, 32_651]);
    expect(result.gotBytes).toBe(1024 * 1024);
    expect(result.got).toBe(result.sent);
  });
});
