// A volume folder written the way the kubelet's AtomicWriter
// (pkg/volume/util/atomic_writer.go) writes configMap, secret and projected
// volumes, because readers such as kskup-router's file watch depend on it:
//
//   ..2026_11_29_10_11_12.4172   the payload (files with their modes)
//   ..data -> ..2026_11_29_...   the current payload
//   KEY -> ..data/KEY            one symlink per top-level path
//
// An update writes a new timestamped folder, points a new symlink ..data_tmp
// at it and renames that over ..data (rename(2) is atomic, so a reader sees
// either all old or all new files), then removes the old folder and the key
// symlinks that are no longer in the payload.

import { chmod, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';

export interface PayloadFile {
  readonly data: Buffer;
  /** File mode, e.g. 0o644 (the volume's defaultMode or the item's mode). */
  readonly mode: number;
}

/** Relative path (may contain "/") → file. */
export type Payload = ReadonlyMap<string, PayloadFile>;

const DATA = '..data';
const DATA_TMP = '..data_tmp';

function timestampedName(now = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const stamp = `${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}`;
  return `..${stamp}.${randomInt(1e9)}`;
}

function samePayload(a: Payload, b: Payload): boolean {
  if (a.size !== b.size) return false;
  for (const [path, f] of a) {
    const g = b.get(path);
    if (g === undefined || g.mode !== f.mode || !g.data.equals(f.data)) return false;
  }
  return true;
}

export class AtomicWriter {
  private current: Payload | undefined;
  /** Writes run one at a time: two at once would both make ..data_tmp, and one rename would find it gone. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dir: string) {}

  /**
   * Makes the folder show `payload`. Returns false when it already did
   * (no new folder, no swap: the kubelet also skips an unchanged payload).
   * @throws Error when a path is absolute or climbs out with "..".
   */
  write(payload: Payload): Promise<boolean> {
    const done = this.queue.then(() => this.writeNow(payload));
    this.queue = done.catch(() => undefined);
    return done;
  }

  private async writeNow(payload: Payload): Promise<boolean> {
    for (const path of payload.keys()) {
      if (path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '') || path.startsWith('..')) {
        throw new Error(`volume ${this.dir}: invalid path ${JSON.stringify(path)} (must be relative, without ".." and not starting with "..")`);
      }
    }
    if (this.current !== undefined && samePayload(this.current, payload)) return false;
    await mkdir(this.dir, { recursive: true });
    const oldTarget = await readlink(join(this.dir, DATA)).catch(() => undefined);
    const fresh = timestampedName();
    for (const [path, file] of payload) {
      const full = join(this.dir, fresh, path);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, file.data);
      await chmod(full, file.mode);
    }
    await mkdir(join(this.dir, fresh), { recursive: true });
    await rm(join(this.dir, DATA_TMP), { force: true });
    await symlink(fresh, join(this.dir, DATA_TMP));
    await rename(join(this.dir, DATA_TMP), join(this.dir, DATA));
    const top = new Set([...payload.keys()].map((p) => p.split('/')[0]!));
    for (const name of top) {
      await symlink(join(DATA, name), join(this.dir, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith('..') && !top.has(name)) await rm(join(this.dir, name), { force: true });
    }
    if (oldTarget !== undefined && oldTarget !== fresh) await rm(join(this.dir, oldTarget), { recursive: true, force: true });
    this.current = payload;
    return true;
  }

  /** Resolves when no write is in flight. */
  async idle(): Promise<void> {
    await this.queue;
  }

  /** Reads a file through the ..data link (for tests and debugging). */
  read(path: string): Promise<Buffer> {
    return readFile(join(this.dir, path));
  }
}
