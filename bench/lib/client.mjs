// The load generator, run as a child process so that its event loop is its own
// (not the echo server's, not the orchestrator's). One JSON line on stdout:
//
//   node client.mjs rtt  PORT COUNT WARMUP         64-byte request/response, one connection
//   node client.mjs cps  PORT SECONDS CONCURRENCY  connect, 64 bytes, echo, close; in loops
//   node client.mjs hold PORT FLOWS                open FLOWS connections, one round trip each,
//                                                  print {"ready":...}, then wait for "close" on stdin
//   node client.mjs burst PORT COUNT BYTES TIMEOUT_S  COUNT connections started at once, each sends
//                                                  BYTES random bytes of its own and checks them
//                                                  byte for byte when they come back
import { randomBytes } from 'node:crypto';
import net from 'node:net';

const [mode, portText, a, b] = process.argv.slice(2);
const port = Number(portText);
const SIZE = 64;
const payload = Buffer.alloc(SIZE, 0x5a);

function out(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

function connect(timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends 64 bytes and resolves when 64 bytes came back. */
function roundTrip(socket, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const timer = setTimeout(() => done(new Error('echo timeout')), timeoutMs);
    const onData = (chunk) => {
      got += chunk.length;
      if (got >= SIZE) done();
    };
    const onError = (error) => done(error);
    const onClose = () => done(new Error(`closed after ${got} of ${SIZE} bytes`));
    function done(error) {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (error) reject(error);
      else resolve();
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(payload);
  });
}

async function rtt(count, warmup) {
  const socket = await connect();
  for (let i = 0; i < warmup; i++) await roundTrip(socket);
  const samples = new Float64Array(count);
  // The hot loop avoids roundTrip()'s per-call timers and listeners.
  await new Promise((resolve, reject) => {
    let i = 0;
    let got = 0;
    let started = 0n;
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${i} round trips`)));
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got < SIZE) return;
      const now = process.hrtime.bigint();
      samples[i++] = Number(now - started) / 1e6;
      got -= SIZE;
      if (i === count) return resolve();
      started = process.hrtime.bigint();
      socket.write(payload);
    });
    started = process.hrtime.bigint();
    socket.write(payload);
  });
  socket.removeAllListeners('close');
  socket.destroy();
  const sorted = Array.from(samples).sort((x, y) => x - y);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  out({ count, p50: pct(50), p90: pct(90), p99: pct(99), max: sorted[sorted.length - 1], mean: sorted.reduce((s, x) => s + x, 0) / count });
}

/** One connection's whole life: connect, 64 bytes there and back, close, wait for the close. */
async function oneConnection() {
  const socket = await connect();
  try {
    await roundTrip(socket);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  await new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => undefined);
    socket.end();
  });
}

async function cps(seconds, concurrency) {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let completed = 0;
  let failed = 0;
  const errors = {};
  const loop = async () => {
    while (Date.now() < deadline) {
      try {
        await oneConnection();
        completed++;
      } catch (error) {
        failed++;
        const key = error.code ?? error.message;
        errors[key] = (errors[key] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  out({ completed, failed, errors, seconds: elapsed, perSecond: completed / elapsed });
}

async function hold(flows) {
  const sockets = [];
  let failed = 0;
  const errors = {};
  let next = 0;
  const opener = async () => {
    while (next < flows) {
      next++;
      try {
        const socket = await connect();
        socket.on('error', () => undefined);
        sockets.push(socket);
        await roundTrip(socket);
      } catch (error) {
        failed++;
        const key = error.code ?? error.message;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 50 }, opener));
  const alive = sockets.filter((s) => !s.destroyed).length;
  out({ ready: alive, failed, errors, openMs: Date.now() - started });
  process.stdin.setEncoding('utf8');
  const finish = () => {
    for (const socket of sockets) socket.destroy();
    out({ closed: sockets.length });
    process.exit(0);
  };
  process.stdin.on('data', (text) => {
    if (text.includes('close')) finish();
  });
  process.stdin.on('end', finish);
}

/**
 * One connection of a burst: connect, send `payload`, read until as many bytes
 * came back, check them byte for byte, end, and wait for the peer's close.
 * Resolves with the time it took (ms), rejects with an error whose `code` says
 * what went wrong (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EMISMATCH, ESHORT).
 */
function burstConnection(payload, deadline) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const chunks = [];
    let got = 0;
    let checked = false;
    let settled = false;
    const fail = (code, message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(Object.assign(new Error(message), { code }));
    };
    const timer = setTimeout(() => fail('ETIMEDOUT', `not done within the burst's time limit (${got} of ${payload.length} bytes back)`), deadline - Date.now());
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got > payload.length) return fail('EMISMATCH', `${got} bytes back, ${payload.length} sent`);
      chunks.push(chunk);
      if (got === payload.length) {
        if (!Buffer.concat(chunks).equals(payload)) return fail('EMISMATCH', 'the bytes that came back differ from those sent');
        checked = true;
        socket.end(); // only now: a half-close is not what this figure is about
      }
    });
    socket.on('error', (error) => fail(error.code ?? 'ERROR', error.message));
    socket.on('close', () => {
      if (!checked) return fail('ESHORT', `closed after ${got} of ${payload.length} bytes`);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

/**
 * COUNT connections, all started in the same tick (so their SYNs reach the
 * listener together, the way a client fleet reconnecting after a failover does),
 * each with its own BYTES random bytes; a connection ends its side once its bytes
 * are back. Reports the time until the last one settled, how many completed,
 * and failures by code (resets separately).
 */
async function burst(count, bytes, timeoutSeconds) {
  const payloads = Array.from({ length: count }, () => randomBytes(bytes));
  const deadline = Date.now() + timeoutSeconds * 1000;
  const started = process.hrtime.bigint();
  const results = await Promise.allSettled(payloads.map((payload) => burstConnection(payload, deadline)));
  const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
  const times = results.filter((r) => r.status === 'fulfilled').map((r) => r.value).sort((x, y) => x - y);
  const errors = {};
  for (const r of results) if (r.status === 'rejected') errors[r.reason.code] = (errors[r.reason.code] ?? 0) + 1;
  const pct = (p) => (times.length ? times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)] : null);
  out({
    count,
    bytes,
    completed: times.length,
    failed: count - times.length,
    resets: errors.ECONNRESET ?? 0,
    errors,
    totalMs,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: times.length ? times[times.length - 1] : null,
  });
}

const modes = {
  rtt: () => rtt(Number(a), Number(b)),
  cps: () => cps(Number(a), Number(b)),
  hold: () => hold(Number(a)),
  burst: () => burst(Number(a), Number(b), Number(process.argv[6] ?? 60)),
};
if (!modes[mode] || !port) {
  process.stderr.write('usage: client.mjs rtt|cps|hold|burst PORT ...\n');
  process.exit(2);
}
modes[mode]().catch((error) => {
  out({ error: String(error.message ?? error) });
  process.exit(1);
});
