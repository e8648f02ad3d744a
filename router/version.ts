// The package version, read from package.json so that it is written in one place.
// Compiled code sits one folder deeper (dist/) than the sources: look upwards.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const candidate = join(folder, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kskup' && pkg.version) return pkg.version;
    }
    folder = dirname(folder);
  }
  return '0.0.0-unknown';
}

export const VERSION = findVersion();
