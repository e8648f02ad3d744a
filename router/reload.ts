// Watches a config file for changes. Editors and config writers often replace
// the file (write elsewhere, rename over it), which ends a watch on the file
// itself, so the folder is watched and events are filtered by name. Bursts of
// events are folded into one call, and a change that leaves the bytes the same
// is not reported.
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const SETTLE_MS = 100;

/** `settleMs`: how long a burst of events may last; a writer that replaces the file by rename needs almost none. */
export function watchConfigFile(file: string, onChange: () => void, settleMs = SETTLE_MS): { close(): void } {
  const path = resolve(file);
  const digest = () => {
    try {
      return createHash('sha256').update(readFileSync(path)).digest('hex');
    } catch {
      return 'unreadable';
    }
  };
  let last = digest();
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(path), (_event, name) => {
    if (name !== null && name !== basename(path)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      const now = digest();
      if (now === last) return;
      last = now;
      onChange();
    }, settleMs);
  });
  watcher.on('error', () => undefined);
  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
