// The ports other local sites in the same home ($KSKUP_HOME) have recorded:
// their own listeners' ports and their service listeners' ports. A site
// choosing a port for a service listener leaves these alone, so two sites on
// one host do not both pick the same free port (the usual case: the service's
// own port). It is a hint, read without a lock: a port both pick at the same
// instant still fails to bind at one of them, which then moves.
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SiteDocument } from '../site/model.js';
import type { SiteFolder } from './site-folder.js';

/** Ports recorded by the sites beside `folder`; a folder that is not a readable site is passed over. */
export async function portsOfOtherSites(folder: SiteFolder): Promise<Set<number>> {
  const home = dirname(folder.path);
  const self = basename(folder.path);
  const names = await readdir(home).catch(() => [] as string[]);
  const ports = new Set<number>();
  await Promise.all(
    names
      .filter((name) => name !== self)
      .map(async (name) => {
        // Every writer replaces site.json by rename: a read sees a whole file or none.
        const text = await readFile(join(home, name, 'site.json'), 'utf8').catch(() => undefined);
        if (text === undefined) return;
        let document: Partial<SiteDocument>;
        try {
          document = JSON.parse(text) as Partial<SiteDocument>;
        } catch {
          return;
        }
        const recorded = [...Object.values(document.listenerPorts ?? {}), ...Object.values(document.site?.ports ?? {})];
        for (const port of recorded) if (Number.isInteger(port)) ports.add(port);
      }),
  );
  return ports;
}
