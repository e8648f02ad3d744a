// `kskup console --tls` of a local site "solo", the real binary: HTTPS with a
// server certificate from the site's CA, the site's client certificate as the
// login. Checked with Node's https client (a browser would need a policy to
// present a client certificate unasked):
//
//   test (https, client cert or password) --> kskup console -n solo --tls --> solo's router
//
// - the site's client certificate (local/client.crt) gets the snapshot with no password,
//   and so does the PKCS#12 file the console wrote (mode 0600, its printed password);
// - a client certificate of another CA is refused (403), password or not, and so is one
//   the site's own CA issued (as it issues to every site that links with a token);
// - no certificate and no password: 401; no certificate and the password: 200;
// - the server certificate verifies against the site's CA for 127.0.0.1;
// - without the site CA's key, --tls is refused (exit 1, naming the file), never plain HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { httpGet, type HttpReply } from './helpers/http-get.js';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../site-controller/pki/index.js';
import { useKskupHome } from './helpers/kskup-cli.js';
import { waitFor } from './helpers/router-process.js';

const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');
const home = useKskupHome('console-tls');
let consoleProcess: ChildProcess;
let output = '';
let url: string;
let password: string;
let p12Password: string;
let p12File: string;
let siteCa: string;

/** GET over HTTPS, the server verified against the site's CA as 127.0.0.1. */
function get(path: string, options: RequestOptions = {}): Promise<HttpReply> {
  return httpGet(new URL(path, url), { ca: siteCa, agent: false, ...options });
}

const basic = (secret: string) => ({ authorization: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}` });

beforeAll(async () => {
  await home.ok('init', '-n', 'solo');
  const folder = home.folder('solo');
  siteCa = readFileSync(folder.caFiles.cert, 'utf8');
  p12File = join(home.path, 'solo-console.p12');
  consoleProcess = spawn(process.execPath, [CLI, 'console', '-n', 'solo', '--port', '0', '--tls', '--p12', p12File], { env: { ...process.env, ...home.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  consoleProcess.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  consoleProcess.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const printed = await waitFor('the console URL and passwords', () => {
    const at = /at (https:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    const secret = /^Password: (\S+)$/m.exec(output)?.[1];
    const bundle = /PKCS#12 password: (\S+)$/m.exec(output)?.[1];
    return at && secret && bundle ? { at, secret, bundle } : undefined;
  }, 30_000);
  ({ at: url, secret: password, bundle: p12Password } = printed);
}, 60_000);

afterAll(async () => {
  if (consoleProcess && consoleProcess.exitCode === null) {
    const exited = new Promise<number | null>((done) => consoleProcess.once('exit', done));
    consoleProcess.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});

describe('kskup console --tls', () => {
  it('takes the site\'s client certificate as the login, from its PEM files and from the PKCS#12 file it wrote', async () => {
    const local = home.folder('solo').localFiles;
    const withPem = await get('/api/snapshot', { cert: readFileSync(local.clientCert), key: readFileSync(local.clientKey) });
    expect(withPem.status).toBe(200);
    expect((JSON.parse(withPem.body) as { snapshot: { site: { name: string } } }).snapshot.site.name).toBe('solo');
    expect(statSync(p12File).mode & 0o777).toBe(0o600);
    const withP12 = await get('/', { pfx: readFileSync(p12File), passphrase: p12Password });
    expect(withP12.status).toBe(200);
    expect(withP12.body).toContain('<title>kskup console</title>');
    // A wrong PKCS#12 password does not open the file.
    await expect(get('/', { pfx: readFileSync(p12File), passphrase: `${p12Password}x` })).rejects.toThrow(/mac verify failure|wrong password|bad decrypt/i);
  });

  it('refuses a client certificate of another CA, or of the site CA (a linked site\'s), password or not', async () => {
    const other = await createCertificateAuthority({ commonName: 'another CA' });
    const stranger = await issueCertificate(other, { commonName: 'kskup local client solo', usage: 'client' });
    const site = await home.folder('solo').siteCertificateAuthority();
    const linked = await issueCertificate(site, { commonName: 'a linked site', usage: 'client' });
    for (const certificate of [stranger, linked]) {
      const refused = await get('/api/snapshot', { cert: certificate.certPem, key: certificate.keyPem });
      expect(refused.status).toBe(403);
      // OpenSSL's reason, as Node names it (SELF_SIGNED_CERT_IN_CHAIN, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...).
      expect(refused.body).toMatch(/^client certificate refused \([A-Z_]+\): the console takes the site's client certificate only/);
      expect(refused.body).not.toContain('solo');
      expect((await get('/api/snapshot', { cert: certificate.certPem, key: certificate.keyPem, headers: basic(password) })).status).toBe(403);
    }
  });

  it('without a certificate: 401 without the password, 200 with it; the passwords printed once', async () => {
    const none = await get('/api/snapshot');
    expect(none.status).toBe(401);
    expect(none.body).not.toContain('solo');
    expect((await get('/api/snapshot', { headers: basic(`${password}x`) })).status).toBe(401);
    expect((await get('/api/snapshot', { headers: basic(password) })).status).toBe(200);
    expect(output.split(password).length - 1).toBe(1);
    expect(output.split(p12Password).length - 1).toBe(1);
    expect(output).toContain(`import ${p12File} into the browser`);
  });

  it('refuses --tls when the site CA\'s key cannot be read (exit 1, naming it), and never serves plain HTTP instead', async () => {
    const key = home.folder('solo').caFiles.key;
    await rename(key, `${key}.away`);
    try {
      const refused = await home.kskup('console', '-n', 'solo', '--port', '0', '--tls', '--p12', join(home.path, 'never.p12'));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`option --tls: the console's server certificate is issued by the site's CA, and its key cannot be read here: ${key}: no such file`);
      expect(refused.stdout).toBe('');
    } finally {
      await rename(`${key}.away`, key);
    }
    const p12Alone = await home.kskup('console', '-n', 'solo', '--p12', 'x.p12');
    expect(p12Alone.code).toBe(2);
    expect(p12Alone.stderr).toContain('option --p12 goes with --tls');
  });
});
