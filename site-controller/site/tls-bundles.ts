// TLS credentials of services: a named bundle of PEM files a site keeps for
// itself, under the key names of a Kubernetes TLS Secret (tls.crt, tls.key,
// ca.crt). A service's listeners serve its credentials bundle; a target's
// tcpConnectors verify the backend against a trust bundle. Bundles never leave
// the site they were imported at: other sites hear only the name (service
// sync), and each needs its own bundle of that name.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { SiteError } from './errors.js';

/** The files of a bundle, PEM text. `keyPem` is secret: never log it. */
export interface TlsBundle {
  /** The certificate served (credentials) or presented as a client (trust); with `keyPem`. */
  readonly certPem?: string;
  readonly keyPem?: string;
  /** CA certificates: clients' (credentials, with client auth) or the backend's (trust). */
  readonly caPem?: string;
}

/** The Kubernetes TLS Secret key names (kubernetes.io/tls, plus ca.crt as cert-manager writes it). */
export const BUNDLE_FILES = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

/** What a bundle is used for: serving needs a certificate and key, verifying needs a CA. */
export type BundleUse = 'credentials' | 'trust';

/** Where a platform keeps a bundle's files for the router (absolute paths), by what it has. */
export interface TlsBundleFiles {
  readonly certFile?: string;
  readonly privateKeyFile?: string;
  readonly caCertFile?: string;
}

/** A site's own bundles: the local folder and a Kubernetes namespace each keep them. */
export interface TlsBundleStore {
  /** Names, sorted. */
  listTlsBundles(): Promise<string[]>;
  readTlsBundle(name: string): Promise<TlsBundle | undefined>;
  /** Creates or replaces the bundle; `bundle` must have passed checkTlsBundle. */
  writeTlsBundle(name: string, bundle: TlsBundle): Promise<void>;
  /** False when there was none. */
  removeTlsBundle(name: string): Promise<boolean>;
}

/** The router's sslProfile of a bundle. */
export function tlsProfileName(bundle: string): string {
  return `tls-${bundle}`;
}

/**
 * Checks a bundle as the router will load it; throws SiteError naming the file
 * (`where(file)`) and what is wrong. A bundle needs tls.crt with tls.key (both
 * or neither), or ca.crt, or all three; the key must be the certificate's.
 * Encrypted keys are refused: the router's sslProfile would need the password
 * in its config, which kskup does not keep.
 */
export function checkTlsBundle(bundle: TlsBundle, where: (file: string) => string): void {
  const fail = (file: string, problem: string): never => {
    throw new SiteError(`${where(file)}: ${problem}`);
  };
  if (bundle.certPem === undefined && bundle.keyPem !== undefined) fail(BUNDLE_FILES.cert, `is missing, but there is a ${BUNDLE_FILES.key}: a key needs its certificate`);
  if (bundle.certPem !== undefined && bundle.keyPem === undefined) fail(BUNDLE_FILES.key, `is missing, but there is a ${BUNDLE_FILES.cert}: a certificate needs its key`);
  if (bundle.certPem === undefined && bundle.caPem === undefined) fail('', `has neither ${BUNDLE_FILES.cert} and ${BUNDLE_FILES.key} nor ${BUNDLE_FILES.ca}`);
  if (bundle.caPem !== undefined) {
    const count = certificatesIn(bundle.caPem, () => fail(BUNDLE_FILES.ca, 'is not a PEM certificate'));
    if (count === 0) fail(BUNDLE_FILES.ca, 'has no PEM certificate');
  }
  if (bundle.certPem !== undefined && bundle.keyPem !== undefined) {
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(bundle.certPem);
    } catch {
      fail(BUNDLE_FILES.cert, 'is not a PEM certificate');
    }
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey({ key: bundle.keyPem, format: 'pem' });
    } catch {
      // An encrypted key throws here too (no passphrase): say both, never quote it.
      fail(BUNDLE_FILES.key, 'is not an unencrypted PEM private key');
    }
    if (certificate && key && !certificate.checkPrivateKey(key)) fail(BUNDLE_FILES.key, `is not the key of ${BUNDLE_FILES.cert} (they do not match)`);
  }
}

/** Why a bundle cannot serve `use`, or undefined when it can. */
export function bundleUseProblem(name: string, bundle: { readonly hasCert: boolean; readonly hasCa: boolean }, use: BundleUse): string | undefined {
  if (use === 'credentials' && !bundle.hasCert) return `TLS credentials "${name}" have no ${BUNDLE_FILES.cert} and ${BUNDLE_FILES.key}, which serving TLS needs`;
  if (use === 'trust' && !bundle.hasCa) return `TLS trust "${name}" has no ${BUNDLE_FILES.ca} to verify the backend with`;
  return undefined;
}

/** Counts the PEM certificates in `text`, each parsed; calls `bad` for one that does not parse. */
function certificatesIn(text: string, bad: () => never): number {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      bad();
    }
  }
  return blocks.length;
}
