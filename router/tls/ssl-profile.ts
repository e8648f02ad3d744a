// Turns an sslProfile entity into the key material and settings node:tls
// wants, reading the files it names and checking that they load (the key with
// its password, the certificate against the key, the cipher list against the
// local OpenSSL), so that a profile that cannot work stops the entity that uses
// it at once instead of failing each handshake later. Problems come back as one
// message naming the profile, the attribute and the file; the password itself
// never appears in any message. Every TLS use (AMQP and HTTP listeners,
// connectors, tcpListeners, tcpConnectors) takes its options from here.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';
import tls, { type ConnectionOptions, type SecureVersion, type TlsOptions } from 'node:tls';
import type { SslProfileEntity } from '../config/types.js';

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
  /** Normalised client certificate serials that a listener refuses (revokedSerials). */
  readonly revokedSerials?: readonly string[];
  /** From `protocols`: the lowest and highest TLS version allowed. */
  readonly minVersion?: SecureVersion;
  readonly maxVersion?: SecureVersion;
  /** From `ciphers`, in node:tls form (TLS 1.3 suites added when the list names none). */
  readonly ciphers?: string;
}

export class SslProfileError extends Error {
  readonly code = 'KSKUP_SSL_PROFILE_INVALID';
}

/**
 * Relative file names are taken relative to `baseDir` (the config file's folder),
 * so that a folder of config and certificates can be moved as a whole.
 */
export function loadTlsMaterial(profile: SslProfileEntity, baseDir: string): TlsMaterial {
  const read = (attribute: 'caCertFile' | 'certFile' | 'privateKeyFile'): Buffer | undefined => {
    const name = profile[attribute];
    if (name === undefined) return undefined;
    const path = resolve(baseDir, name);
    try {
      return readFileSync(path);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new SslProfileError(`sslProfile "${profile.name}": cannot read ${attribute} ${path}: ${reason}`, { cause: error });
    }
  };
  const material: TlsMaterial = {
    ca: read('caCertFile'),
    cert: read('certFile'),
    key: read('privateKeyFile'),
    passphrase: profile.password === undefined ? undefined : resolvePassword(profile, baseDir),
    revokedSerials: profile.revokedSerials,
    ...versionRange(profile.protocols),
    ...(profile.ciphers !== undefined && { ciphers: withTls13Suites(profile.ciphers) }),
  };
  checkMaterial(profile, material);
  return material;
}

/** The files and settings load as node:tls will load them; else SslProfileError naming the attribute. */
function checkMaterial(profile: SslProfileEntity, material: TlsMaterial): void {
  const fail = (attribute: string, problem: string, cause?: unknown): never => {
    throw new SslProfileError(`sslProfile "${profile.name}": ${attribute} ${problem}`, { cause });
  };
  let key: KeyObject | undefined;
  if (material.key) {
    try {
      key = createPrivateKey({ key: material.key, passphrase: material.passphrase });
    } catch (error) {
      // OpenSSL says "bad decrypt" or "interrupted or cancelled"; neither names the cause plainly.
      if (profile.password !== undefined) fail('password', `does not unlock privateKeyFile ${profile.privateKeyFile ?? ''} (or the key is not valid PEM)`, error);
      fail('privateKeyFile', `${profile.privateKeyFile ?? ''} cannot be loaded: it is encrypted and there is no password, or it is not a PEM private key`, error);
    }
  }
  if (material.cert) {
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(material.cert);
    } catch (error) {
      fail('certFile', `${profile.certFile ?? ''} is not a PEM certificate`, error);
    }
    if (certificate && key && !certificate.checkPrivateKey(key)) {
      fail('privateKeyFile', `${profile.privateKeyFile ?? ''} is not the key of certFile ${profile.certFile ?? ''}`);
    }
  }
  if (material.ca) {
    try {
      new X509Certificate(material.ca);
    } catch (error) {
      fail('caCertFile', `${profile.caCertFile ?? ''} is not a PEM certificate`, error);
    }
  }
  try {
    tls.createSecureContext({ ciphers: material.ciphers, minVersion: material.minVersion, maxVersion: material.maxVersion });
  } catch (error) {
    if (profile.ciphers !== undefined) fail('ciphers', `${JSON.stringify(profile.ciphers)} is not accepted by the local OpenSSL (${(error as Error).message}); check it with "openssl ciphers -v"`, error);
    fail('protocols', `${JSON.stringify(profile.protocols)} is not accepted by node:tls (${(error as Error).message})`, error);
  }
}

const VERSION_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** `protocols` ("TLSv1.2 TLSv1.3", a contiguous run: the parser checks) as node:tls's lowest and highest version. */
function versionRange(protocols: string | undefined): { minVersion?: SecureVersion; maxVersion?: SecureVersion } {
  if (protocols === undefined) return {};
  const allowed = VERSION_ORDER.filter((version) => protocols.split(/\s+/).includes(version));
  return { minVersion: allowed[0], maxVersion: allowed[allowed.length - 1] };
}

/**
 * skupper-router hands `ciphers` to OpenSSL's cipher list, which governs TLS 1.2
 * and below and leaves TLS 1.3's suites alone; node:tls takes both from one
 * string and would turn TLS 1.3 off if the list names no TLS_ suite. So
 * Node's default TLS 1.3 suites are added to a list that names none.
 */
function withTls13Suites(ciphers: string): string {
  const names = ciphers.split(':');
  if (names.some((name) => name.startsWith('TLS_'))) return ciphers;
  const tls13 = tls.DEFAULT_CIPHERS.split(':').filter((name) => name.startsWith('TLS_'));
  return [...tls13, ...names].join(':');
}

/** skupper-router's password forms: `pass:`/`literal:` text, `env:VAR`, `file:PATH`, or bare text. */
function resolvePassword(profile: SslProfileEntity, baseDir: string): string {
  const value = profile.password ?? '';
  const separator = value.indexOf(':');
  const scheme = separator > 0 ? value.slice(0, separator) : '';
  const rest = value.slice(separator + 1);
  switch (scheme) {
    case 'pass':
    case 'literal':
      return rest;
    case 'env': {
      const fromEnv = process.env[rest];
      if (fromEnv === undefined) {
        throw new SslProfileError(`sslProfile "${profile.name}": password names environment variable ${rest}, which is not set`);
      }
      return fromEnv;
    }
    case 'file':
      try {
        return readFileSync(resolve(baseDir, rest), 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new SslProfileError(`sslProfile "${profile.name}": cannot read password file ${rest}: ${reason}`, { cause: error });
      }
    default:
      return value;
  }
}

/**
 * Options of a TLS server (AMQP or HTTPS listener) made from an sslProfile. A
 * client certificate is requested with authenticatePeer but verified by the
 * caller after the handshake, not inside it: a handshake that OpenSSL aborts
 * tells neither side why ("socket hang up"), while checked afterwards the reason
 * can be logged and sent back to the peer.
 */
export function tlsServerOptions(material: TlsMaterial, authenticatePeer: boolean): TlsOptions {
  return {
    ...commonOptions(material),
    requestCert: authenticatePeer,
    rejectUnauthorized: false,
  };
}

/**
 * Options of a TLS client (connector, tcpConnector) made from an sslProfile:
 * the server's certificate must chain to the profile's CA and, with
 * verifyHostname, name `host` (DNS name or IP address). The profile's
 * certificate, if any, is presented as the client certificate.
 */
export function tlsClientOptions(material: TlsMaterial, host: string, verifyHostname: boolean): ConnectionOptions {
  return {
    ...commonOptions(material),
    rejectUnauthorized: true,
    servername: net.isIP(host) ? undefined : host,
    checkServerIdentity: verifyHostname ? tls.checkServerIdentity : () => undefined,
  };
}

function commonOptions(material: TlsMaterial): tls.SecureContextOptions {
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    passphrase: material.passphrase,
    ...(material.minVersion !== undefined && { minVersion: material.minVersion }),
    ...(material.maxVersion !== undefined && { maxVersion: material.maxVersion }),
    ...(material.ciphers !== undefined && { ciphers: material.ciphers }),
  };
}
