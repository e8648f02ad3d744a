// The files of a dump as they are gathered, and what could not be. Each part
// is gathered on its own (DumpContents.part): one that fails is written down
// as a problem, with the reason, and the dump goes on, since a dump is most
// wanted when a site is partly broken.
import { stringify } from 'yaml';
import type { ArchiveFile } from './archive.js';

export class DumpContents {
  readonly files: ArchiveFile[] = [];
  /** `part: why`, one per thing that could not be gathered; README.txt and the CLI's warning list them. */
  readonly problems: string[] = [];
  /** `file: what`, one per redaction rule applied (README.txt). */
  readonly redactions: string[] = [];
  /** README.txt's list: file -> one line on what it holds. */
  readonly described = new Map<string, string>();

  addText(path: string, text: string, description: string): void {
    const at = this.files.findIndex((file) => file.path === path);
    if (at >= 0) this.files.splice(at, 1);
    this.files.push({ path, text });
    this.described.set(path, description);
  }

  addJson(path: string, value: unknown, description: string): void {
    this.addText(path, `${JSON.stringify(value, null, 2)}\n`, description);
  }

  addYaml(path: string, value: unknown, description: string): void {
    this.addText(path, stringify(value), description);
  }

  problem(part: string, error: unknown): void {
    this.problems.push(`${part}: ${reason(error)}`);
  }

  /** Runs one part; a failure becomes a problem of `name`, and false. */
  async part(name: string, gather: () => Promise<void>): Promise<boolean> {
    try {
      await gather();
      return true;
    } catch (error) {
      this.problem(name, error);
      return false;
    }
  }

  /** Whether anything about the site itself was gathered (README.txt and versions.json say nothing of it). */
  get hasSiteData(): boolean {
    return this.files.some((file) => file.path !== 'versions.json' && file.path !== 'README.txt');
  }
}

export function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}
