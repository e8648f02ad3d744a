// Reading network.json, the site controller's account of the network, for the
// status commands. Missing before the site process first wrote it.
import { readFile } from 'node:fs/promises';
import type { NetworkSnapshot } from '../site/site-controller.js';
import type { SiteFolder } from './site-folder.js';

export async function readNetworkSnapshot(folder: SiteFolder): Promise<NetworkSnapshot | undefined> {
  try {
    return JSON.parse(await readFile(folder.networkFile, 'utf8')) as NetworkSnapshot;
  } catch {
    return undefined;
  }
}
