// Watches a config file for changes. Editors and config writers often replace
// the file (write elsewhere, rename over it), which ends a watch on the file
// itself, so the folder is watched and events are filtered by name. Bursts of
// events are folded into one call, and a change that leaves the bytes the same
// is not reported.
//
// A Kubernetes ConfigMap or Secret volume is updated by the kubelet's atomic
// writer: the file is a symbolic link `NAME -> ..data/NAME`, and an update
// writes a new timestamped folder and renames a new `..data` link over the old
// one. The events then name `..data` (and the timestamped folders), never the
// file, so those names count as a change of the file too. The `..data` rename
// is the writer's last step (the new content is complete), so it is checked at
// once rather than after the settle time: a Pod change reaches the router
// sooner (docs/kubernetes.md, "Config reload").
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const SETTLE_MS = 100;
/** The name the kubelet's atomic writer renames over, last, to publish a new version of a volume. */
const ATOMIC_SWAP = '..data';

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
  let swapped = false;
  const check = () => {
    timer = undefined;
    swapped = false;
    const now = digest();
    if (now === last) return;
    last = now;
    onChange();
  };
  const watcher = watch(dirname(path), (_event, name) => {
    if (name !== null && name !== basename(path) && !name.startsWith('..')) return;
    // A check due at once for a swap reads the complete new version; what follows it (the old version's removal) need not postpone it.
    if (swapped) return;
    if (timer) clearTimeout(timer);
    swapped = name === ATOMIC_SWAP;
    timer = setTimeout(check, swapped ? 0 : settleMs);
  });
  watcher.on('error', () => undefined);
  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher.close();
    },
  };
}
