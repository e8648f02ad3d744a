// Replacing a file by rename: a reader sees the old file or the new one, never
// half of one. Node built-ins only, so the site supervisor (which must load
// almost nothing) can share it with the site folder.
import { randomBytes } from 'node:crypto';
import { writeFile, rename, rm } from 'node:fs/promises';

/** Writes `text` (or bytes) beside `file` (same folder, so the rename is atomic) and renames it over `file`. */
export async function atomicWrite(file: string, text: string | Uint8Array, mode: number): Promise<void> {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
