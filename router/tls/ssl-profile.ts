// Turns an sslProfile entity into the key material node:tls wants, reading the
// files it names. Problems come back as one message naming the profile, the
// attribute and the file; the password itself never appears in any message.
import { readFileSync } from 'node:fs';
import type { SslProfileEntity } from '../config/types.js';

export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
}

export class SslProfileError extends Error {
  readonly code = 'KSKUP_SSL_PROFILE_INVALID';
}

export function loadTlsMaterial(profile: SslProfileEntity): TlsMaterial {
  const read = (attribute: 'caCertFile' | 'certFile' | 'privateKeyFile'): Buffer | undefined => {
    const path = profile[attribute];
    if (path === undefined) return undefined;
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
    passphrase: profile.password === undefined ? undefined : resolvePassword(profile),
  };
}

/** skupper-router's password forms: `pass:`/`literal:` text, `env:VAR`, `file:PATH`, or bare text. */
function resolvePassword(profile: SslProfileEntity): string {
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
        return readFileSync(rest, 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new SslProfileError(`sslProfile "${profile.name}": cannot read password file ${rest}: ${reason}`, { cause: error });
      }
    default:
      return value;
  }
}
