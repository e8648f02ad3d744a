// Reading network.json, the site's account of the network, for the status
// commands (T: NetworkSnapshot, service-controller/network-snapshot.ts).
// Missing before the site process first wrote it.
import { readFile } from 'node:fs/promises';
import type { SiteFolder } from './site-folder.js';

export async function readNetworkSnapshot<T>(folder: SiteFolder): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(folder.networkFile, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
