// Packs a dump's files into a .tar.gz, in memory: a dump is a few MiB at most
// (logs are cut to their last DUMP_LOG_BYTES each), so the archive is built
// whole and then written in one go, to a temporary file renamed into place
// (never half an archive under the name asked for) or to stdout. tar-stream
// writes the ustar headers; zlib does the gzip.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { scrubPrivateKeys } from './redact.js';

export interface ArchiveFile {
  /** Inside the archive's top folder: `management/connection.json`. */
  readonly path: string;
  readonly text: string;
}

/**
 * The archive: every file under `folder/`, readable by its owner only (mode
 * 0600; the files are redacted, but a dump is still about someone's network).
 * Every text is scrubbed of private key blocks here, the last word whatever
 * was gathered; `scrubbed` counts the blocks removed (0 unless a part leaked one).
 */
export async function packArchive(folder: string, files: readonly ArchiveFile[], mtime: Date): Promise<{ bytes: Buffer; scrubbed: number }> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  let scrubbed = 0;
  tar.entry({ name: `${folder}/`, type: 'directory', mode: 0o700, mtime });
  for (const file of files) {
    const clean = scrubPrivateKeys(file.text);
    scrubbed += clean.found;
    await new Promise<void>((resolve, reject) => tar.entry({ name: `${folder}/${file.path}`, mode: 0o600, mtime }, Buffer.from(clean.text, 'utf8'), (error) => (error ? reject(error) : resolve())));
  }
  tar.finalize();
  await ended;
  return { bytes: await promisify(gzip)(Buffer.concat(chunks)), scrubbed };
}

/** Writes `bytes` to `file` through a temporary file beside it, mode 0600. */
export async function writeArchiveFile(file: string, bytes: Buffer): Promise<void> {
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, bytes, { mode: 0o600 });
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}
