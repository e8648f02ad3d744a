// Test image kskup-test/echo:1: a TCP echo server on --port (default 8080),
// half-close aware (our FIN after the peer's), and an HTTP server on
// --http-port (default 8081) answering /name with the pod's name (env POD_NAME, from the
// downward API, else HOSTNAME) so a test can tell which pod answered,
// /healthz and /ready with 200, /not-ready with 503, and /file/<absolute
// path> with that file as the container sees it (its mounts). Exits on SIGTERM.
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';

// Ports come as arguments, not environment: a Service named "echo" gives every
// pod of its namespace ECHO_PORT=tcp://... (service links), as on a cluster.
const arg = (flag, fallback) => {
  const i = process.argv.indexOf(flag);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const echoPort = arg('--port', 8080);
const httpPort = arg('--http-port', 8081);
const name = process.env.POD_NAME ?? process.env.HOSTNAME ?? 'unknown';

const echo = createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
echo.listen(echoPort, '0.0.0.0');

const http = createHttpServer((req, res) => {
  if (req.url?.startsWith('/file/')) {
    readFile(decodeURIComponent(req.url.slice('/file'.length)), 'utf8').then(
      (text) => res.writeHead(200, { Connection: 'close' }).end(text),
      (err) => res.writeHead(404, { Connection: 'close' }).end(String(err.code)),
    );
    return;
  }
  const routes = { '/name': [200, name], '/healthz': [200, 'ok'], '/ready': [200, 'ready'], '/not-ready': [503, 'not ready'] };
  const [code, body] = routes[req.url ?? ''] ?? [404, 'not found'];
  res.writeHead(code, { 'Content-Type': 'text/plain', Connection: 'close' });
  res.end(body);
});
http.listen(httpPort, '0.0.0.0');
console.log(`echo ${name}: tcp ${echoPort}, http ${httpPort}`);

process.on('SIGTERM', () => {
  console.log(`echo ${name}: SIGTERM`);
  process.exit(0);
});
