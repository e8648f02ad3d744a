// Turns an sslProfile entity into the key material node:tls wants, reading the
// files it names. Problems come back as one message naming the profile, the
// attribute and the file; the password itself never appears in any message.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TlsOptions } from 'node:tls';
import type { SslProfileEntity } from '../config/types.js';

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
  /** Normalised client certificate serials that a listener refuses (revokedSerials). */
  readonly revokedSerials?: readonly string[];
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
  return {
    ca: read('caCertFile'),
    cert: read('certFile'),
    key: read('privateKeyFile'),
    passphrase: profile.password === undefined ? undefined : resolvePassword(profile, baseDir),
    revokedSerials: profile.revokedSerials,
  };
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
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    passphrase: material.passphrase,
    requestCert: authenticatePeer,
    rejectUnauthorized: false,
  };
}
