// `kskup console --tls`: what HTTPS with client-certificate login needs.
//
// - The server certificate: issued at each start, for the loopback names, by
//   the site's CA (ca/tls.key of a local site; Secret kskup-site-ca on
//   Kubernetes). Without that key the console refuses --tls: it never falls
//   back to plain HTTP.
// - The login certificate: the site's local client certificate, the one kskup
//   itself presents to the router's local listener (local/client.crt; Secret
//   kskup-local-client). It is checked against the local CA (local/ca.crt; the
//   Secret's ca.crt), not the site CA: the local CA signed only that client
//   certificate and the local listener's server certificate (whose extended
//   key usage is serverAuth only, which OpenSSL refuses for a client) and its
//   key was dropped (new-site.ts), whereas the site CA signs the client
//   certificates of every site that linked with a token, which must not open
//   the console.
// - The PKCS#12 file a browser imports it from, written mode 0600, with a
//   generated password the command prints once.
import { readFile } from 'node:fs/promises';
import { atomicWrite } from '../../site-controller/local/atomic-write.js';
import { generatePassword } from './console-auth.js';
import { issueCertificate, pkcs12Bundle, type CertificateAuthority } from '../../site-controller/pki/index.js';
import type { ResolvedSite } from '../site/site-options.js';
import { fileProblem, RuntimeError } from '../errors.js';

/** A day: the server certificate is made again at every start, so it need not last. */
const SERVER_VALIDITY_DAYS = 1;

export interface ConsoleTls {
  /** The console's server certificate and key (PEM), issued by the site CA. */
  readonly cert: string;
  readonly key: string;
  /** The site CA's certificate (PEM): what a browser trusts to accept `cert`. */
  readonly serverCaPem: string;
  /** The local CA (PEM): the one CA whose client certificates log in. */
  readonly clientCaPem: string;
  /** The site's local client certificate and key (PEM), for the PKCS#12 file. */
  readonly client: { readonly certPem: string; readonly keyPem: string };
}

/**
 * Gathers the site's CA and local client certificate and issues the server
 * certificate for `hosts` (loopback names and addresses). RuntimeError,
 * naming the file or Secret, when the CA's key or the client certificate
 * cannot be read: the console then does not start.
 */
export async function consoleTls(target: ResolvedSite, hosts: readonly string[]): Promise<ConsoleTls> {
  const [ca, local] = await Promise.all([siteCa(target), localClient(target)]);
  const server = await issueCertificate(ca, { commonName: `kskup console ${target.namespace}`.slice(0, 64), hosts: [...new Set(hosts)], usage: 'server', validityDays: SERVER_VALIDITY_DAYS });
  return { cert: server.certPem, key: server.keyPem, serverCaPem: ca.certPem, clientCaPem: local.ca, client: { certPem: local.cert, keyPem: local.key } };
}

async function siteCa(target: ResolvedSite): Promise<CertificateAuthority> {
  const why = 'the console\'s server certificate is issued by the site\'s CA';
  if (target.platform === 'local') {
    const files = target.folder.caFiles;
    try {
      return { certPem: await readFile(files.cert, 'utf8'), keyPem: await readFile(files.key, 'utf8') };
    } catch (error) {
      throw new RuntimeError(`option --tls: ${why}, and its key cannot be read here: ${(error as { path?: string }).path ?? files.key}: ${fileProblem(error)} (run kskup console as the site's owner, or without --tls)`, { cause: error });
    }
  }
  try {
    return await target.certificates.siteCertificateAuthority();
  } catch (error) {
    throw new RuntimeError(`option --tls: ${why}, Secret kskup-site-ca, which cannot be read: ${error instanceof Error ? error.message : String(error)} (needs get on that Secret; or run without --tls)`, { cause: error });
  }
}

async function localClient(target: ResolvedSite): Promise<{ ca: string; cert: string; key: string }> {
  if (target.platform === 'local') {
    try {
      const tls = await target.folder.localClientTls();
      return { ca: tls.ca.toString('utf8'), cert: tls.cert.toString('utf8'), key: tls.key.toString('utf8') };
    } catch (error) {
      throw new RuntimeError(`option --tls: the site's client certificate (local/client.crt, client.key, ca.crt in ${target.folder.path}) cannot be read: ${fileProblem(error)}`, { cause: error });
    }
  }
  const { readLocalClient } = await import('../../site-controller/kubernetes/router-access.js');
  try {
    const tls = await readLocalClient(target.site.access);
    return { ca: tls.ca.toString('utf8'), cert: tls.cert.toString('utf8'), key: tls.key.toString('utf8') };
  } catch (error) {
    throw new RuntimeError(`option --tls: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Writes the site's client certificate and key, with the site CA's
 * certificate, as a PKCS#12 file (mode 0600, replaced if there) under a new
 * password, which is returned for the caller to print once.
 */
export async function writeClientBundle(tls: ConsoleTls, file: string, site: string): Promise<string> {
  const password = generatePassword();
  const bytes = pkcs12Bundle({ certPem: tls.client.certPem, keyPem: tls.client.keyPem, chainPems: [tls.clientCaPem], friendlyName: `kskup console ${site}` }, password);
  try {
    // A new file renamed over any old one: an old file's wider mode is never kept.
    await atomicWrite(file, bytes, 0o600);
  } catch (error) {
    throw new RuntimeError(`option --p12: cannot write ${file}: ${fileProblem(error)}`, { cause: error });
  }
  return password;
}
