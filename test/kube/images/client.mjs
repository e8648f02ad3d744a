// Test image kskup-test/client:1, and the program tests run in a pod's
// network namespace (PodRunner.execInPod). Modes, each printing one JSON line:
//   sleep                      wait until SIGTERM (a pod to exec in)
//   echo HOST PORT BYTES       send BYTES random bytes, half-close, read the
//                              echo to the end: {"bytes","sent","received"} (sha256)
//   http URL                   one GET on a fresh connection: {"status","body"}
//   http-count URL N [AT_ONCE] N GETs, AT_ONCE (default 1) at a time, each on a
//                              fresh connection (a flow each): {"bodies":{BODY:count},"errors":{CODE:count}}
//   connect HOST PORT MS       connect and wait up to MS for the peer to speak,
//                              close or reset: {"outcome","ms"}
//   listen PORT                accept one connection, answer "hello from <POD_NAME>", exit
import { connect, createServer } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { get } from 'node:http';

const [mode, ...rest] = process.argv.slice(2);
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'sleep' || mode === undefined) {
  setInterval(() => undefined, 1 << 30);
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'echo') {
  const [host, port, bytes] = rest;
  const data = randomBytes(Number(bytes));
  const hash = createHash('sha256');
  let received = 0;
  const s = connect({ host, port: Number(port), allowHalfOpen: true }, () => s.end(data));
  s.on('data', (d) => {
    hash.update(d);
    received += d.length;
  });
  s.on('end', () => {
    print({ bytes: received, sent: createHash('sha256').update(data).digest('hex'), received: hash.digest('hex') });
    s.destroy();
  });
  s.on('error', (e) => {
    print({ error: e.code ?? e.message });
    process.exitCode = 1;
  });
} else if (mode === 'http') {
  get(rest[0], { agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => print({ status: res.statusCode, body }));
  }).on('error', (e) => {
    print({ error: e.code ?? e.message });
    process.exitCode = 1;
  });
} else if (mode === 'http-count') {
  // One process for many flows: a process per flow (exec) would cost far more than the flows.
  const [url, n, atOnce = '1'] = rest;
  const bodies = {};
  const errors = {};
  const once = () =>
    new Promise((resolve) => {
      get(url, { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(res.statusCode === 200 ? { body } : { error: `HTTP ${res.statusCode}` }));
      }).on('error', (e) => resolve({ error: e.code ?? e.message }));
    });
  let started = 0;
  const worker = async () => {
    while (started < Number(n)) {
      started++;
      const answer = await once();
      if (answer.error !== undefined) errors[answer.error] = (errors[answer.error] ?? 0) + 1;
      else bodies[answer.body] = (bodies[answer.body] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: Number(atOnce) }, worker));
  print({ bodies, errors });
} else if (mode === 'connect') {
  const [host, port, ms] = rest;
  const start = Date.now();
  let done = false;
  const finish = (outcome) => {
    if (done) return;
    done = true;
    print({ outcome, ms: Date.now() - start });
    s.destroy();
    clearTimeout(timer);
  };
  const s = connect({ host, port: Number(port) });
  s.on('data', () => finish('data'));
  s.on('end', () => finish('closed'));
  s.on('error', (e) => finish(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' ? 'reset' : String(e.code)));
  const timer = setTimeout(() => finish('timeout'), Number(ms));
} else if (mode === 'listen') {
  const server = createServer((socket) => {
    socket.end(`hello from ${process.env.POD_NAME ?? 'unknown'}`);
    server.close();
  });
  server.listen(Number(rest[0]), '0.0.0.0', () => print({ listening: Number(rest[0]) }));
} else {
  console.error(`client.mjs: unknown mode ${mode}`);
  process.exit(2);
}
