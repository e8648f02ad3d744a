// Key material that changes on disk reaches a running router without a
// restart or a SIGHUP (router/tls/profile-files.ts):
//
//   TLS client --> [tcpListener, sslProfile "edge" from files] --> echo
//
// The files are missing at start (as when a Secret volume is updated after the
// ConfigMap that names it): the tcpListener is down with the reason, then
// listens with TLS once they appear. A renewed certificate is then what new
// handshakes get.
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManagementClient } from '../router/management/management-client.js';
import { freePort, RouterProcess, useRouters, waitFor } from './helpers/router-process.js';
import { useEchoServer } from './helpers/tcp-tools.js';
import { useTestFolder } from './helpers/temp-dir.js';

const folder = useTestFolder('cert-rotation', { withPki: true });
const echo = useEchoServer();
const routers = useRouters();

/** The serial of the certificate a TLS handshake with the listener gets, or the error. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(folder.pki.caCert), servername: 'localhost' }, () => {
      const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
      socket.end();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

describe('sslProfile files changed on disk', () => {
  it('a tcpListener whose key files appear after start listens with TLS within seconds; a renewed certificate is served to new clients', async () => {
    const certs = join(folder.path, 'certs');
    await mkdir(certs);
    const [amqpPort, tcpPort] = [await freePort(), await freePort()];
    const router = await RouterProcess.start(folder.path, 'rotating', [
      ['router', { id: 'R', mode: 'interior' }],
      ['listener', { name: 'amqp', host: '127.0.0.1', port: amqpPort }],
      ['sslProfile', { name: 'edge', caCertFile: join(certs, 'ca.crt'), certFile: join(certs, 'tls.crt'), privateKeyFile: join(certs, 'tls.key') }],
      ['tcpListener', { name: 'secure', host: '127.0.0.1', port: tcpPort, address: 'echo', sslProfile: 'edge' }],
      ['tcpConnector', { name: 'echo', host: '127.0.0.1', port: echo.port, address: 'echo' }],
    ]);
    routers.push(router);
    const client = await waitFor('the management listener', () => ManagementClient.connect({ host: '127.0.0.1', port: amqpPort }, { timeoutMs: 5_000 }).catch(() => undefined));
    try {
      const row = async () => (await client.query('tcpListener')).find((r) => r.name === 'secure');
      expect(await row()).toMatchObject({ operStatus: 'down', operStatusMsg: expect.stringMatching(/cannot read caCertFile .*ENOENT/) });
      await expect(servedSerial(tcpPort)).rejects.toThrow(/ECONNREFUSED/);

      // The files arrive, each written beside and renamed into place.
      for (const [from, to] of [[folder.pki.caCert, 'ca.crt'], [folder.pki.serverCert, 'tls.crt'], [folder.pki.serverKey, 'tls.key']] as const) {
        await copyFile(from, join(certs, `${to}.tmp`));
        await rename(join(certs, `${to}.tmp`), join(certs, to));
      }
      await waitFor('the tcpListener to be up', async () => (await row())?.operStatus === 'up', 6_000);
      expect(await servedSerial(tcpPort)).toBe(new X509Certificate(readFileSync(folder.pki.serverCert)).serialNumber);

      // Renewed: another certificate (the test PKI's "both" one, same CA, localhost too) in the same files.
      await copyFile(folder.pki.bothCert, join(certs, 'tls.crt.tmp'));
      await copyFile(folder.pki.bothKey, join(certs, 'tls.key.tmp'));
      await rename(join(certs, 'tls.key.tmp'), join(certs, 'tls.key'));
      await rename(join(certs, 'tls.crt.tmp'), join(certs, 'tls.crt'));
      const renewed = new X509Certificate(readFileSync(folder.pki.bothCert)).serialNumber;
      await waitFor('the renewed certificate', async () => (await servedSerial(tcpPort).catch(() => '')) === renewed, 6_000);
      await router.waitForLog('the change logged', (line) => /files of sslProfile "edge" changed on disk/.test(line.msg));
    } finally {
      await client.close();
    }
  });
});
