// Asks a running, unmodified Node.js process for its heap after a full garbage
// collection and its count of active handles and requests, through the V8
// inspector: SIGUSR1 makes Node open the inspector on 127.0.0.1:9229 (Node's
// documented behaviour, https://nodejs.org/en/learn/getting-started/debugging),
// the sample is taken over the Chrome DevTools Protocol (HeapProfiler.collectGarbage,
// Runtime.evaluate), and the inspector is closed again (require('node:inspector').close(),
// from the console API) so that the next process can use the port.
// One process at a time: callers await each sample.
import WebSocket from 'ws';

const INSPECTOR = 'http://127.0.0.1:9229';
const OPEN_TIMEOUT_MS = 3_000;
const CALL_TIMEOUT_MS = 10_000;

/**
 * { heapAfterGc, heapTotal, external, arrayBuffers: bytes (process.memoryUsage() after a full GC),
 *   handles: count of process.getActiveResourcesInfo() }
 * for the process `pid`. Throws if the inspector does not open within 3 s (the
 * process handles SIGUSR1 itself, or the port is taken) or a call fails.
 */
export async function sampleInspector(pid) {
  process.kill(pid, 'SIGUSR1');
  const target = await openedTarget(pid);
  const socket = new WebSocket(target);
  try {
    await new Promise((ok, fail) => socket.once('open', ok).once('error', fail));
    const call = caller(socket);
    await call('HeapProfiler.collectGarbage');
    const reply = await call('Runtime.evaluate', {
      expression: 'JSON.stringify({ pid: process.pid, heap: process.memoryUsage(), handles: process.getActiveResourcesInfo().length })',
      returnByValue: true,
    });
    const { pid: answered, heap, handles } = JSON.parse(reply.result.value);
    // No answer comes to this one: the inspector closes with the session in it.
    socket.send(JSON.stringify({ id: 0, method: 'Runtime.evaluate', params: { expression: "require('node:inspector').close()", includeCommandLineAPI: true } }));
    await closed();
    // Another process's inspector left open on the port would answer for it.
    if (answered !== pid) throw new Error(`the inspector on ${INSPECTOR} belongs to process ${answered}, not ${pid}`);
    return { heapAfterGc: heap.heapUsed, heapTotal: heap.heapTotal, external: heap.external, arrayBuffers: heap.arrayBuffers, handles };
  } finally {
    socket.terminate();
  }
}

/** The WebSocket URL of the inspector that `pid` opened. */
async function openedTarget(pid) {
  const deadline = Date.now() + OPEN_TIMEOUT_MS;
  for (;;) {
    try {
      const [first] = await (await fetch(`${INSPECTOR}/json/list`)).json();
      if (first?.webSocketDebuggerUrl) return first.webSocketDebuggerUrl;
    } catch {
      // Not open yet.
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} opened no inspector on ${INSPECTOR} within ${OPEN_TIMEOUT_MS} ms`);
    await new Promise((ok) => setTimeout(ok, 25));
  }
}

/** Resolves once nothing listens on the inspector port any more (at most 1 s). */
async function closed() {
  const deadline = Date.now() + 1_000;
  while (Date.now() < deadline) {
    const open = await fetch(`${INSPECTOR}/json/version`).then(() => true, () => false);
    if (!open) return;
    await new Promise((ok) => setTimeout(ok, 10));
  }
}

function caller(socket) {
  let id = 0;
  const pending = new Map();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    const settle = pending.get(message.id);
    if (!settle) return;
    pending.delete(message.id);
    settle(message);
  });
  return (method, params = {}) =>
    new Promise((ok, fail) => {
      const n = ++id;
      const timer = setTimeout(() => fail(new Error(`${method}: no answer within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
      pending.set(n, (message) => {
        clearTimeout(timer);
        if (message.error) fail(new Error(`${method}: ${message.error.message}`));
        else ok(message.result);
      });
      socket.send(JSON.stringify({ id: n, method, params }));
    });
}
