// What an sslProfile's files hold right now, as one fingerprint: the router
// compares it every few seconds, so a certificate renewed on disk, a key that
// arrives after the config that names it (a Kubernetes Secret volume is
// updated apart from the ConfigMap volume), or a Secret's `..data` swap takes
// effect without a restart or a SIGHUP. Polling, not a file watch: cheap for a
// handful of small files, and it sees every kind of replacement (rename over,
// symbolic link swap, write in place, a volume remounted).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SslProfileEntity } from '../config/types.js';

/** sha256 over the bytes of every file the profile names (a missing file counts as its error code). */
export function profileFingerprint(profile: SslProfileEntity, baseDir: string): string {
  const hash = createHash('sha256');
  const password = profile.password?.startsWith('file:') ? profile.password.slice('file:'.length) : undefined;
  for (const file of [profile.caCertFile, profile.certFile, profile.privateKeyFile, password]) {
    if (file === undefined) {
      hash.update('\u0000none');
      continue;
    }
    try {
      hash.update(readFileSync(resolve(baseDir, file)));
    } catch (error) {
      hash.update(`\u0000${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  return hash.digest('hex');
}
