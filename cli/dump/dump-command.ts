// `kskup debug dump FILE`: a .tar.gz with what it takes to diagnose a site,
// without its secrets (docs/troubleshooting.md). What cannot be gathered (a
// router that is down, a log the API will not give) is listed in the
// archive's README.txt and in a warning; the command fails only when nothing
// about the site could be gathered.
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { parsePositiveInteger, parseSeconds } from '../arguments.js';
import type { CommandContext } from '../command-context.js';
import { RuntimeError, UsageError } from '../errors.js';
import { render } from '../output.js';
import { addSiteOptions, resolveSite, type SiteOptions } from '../site/site-options.js';

interface DumpCommandOptions extends SiteOptions {
  readonly force?: true;
  readonly logLines: number;
  readonly timeout: number;
}

/** Bytes read from the end of each log (a local site's file, each container through the API): bounds the archive. */
export const DUMP_LOG_BYTES = 4 * 1024 * 1024;
const DEFAULT_LOG_LINES = 5000;

const EXAMPLES = `
Examples:
  kskup debug dump west.tar.gz -n west                  a local site, or namespace west of the current kubeconfig context
  kskup debug dump west.tar.gz -n west --force          replace west.tar.gz
  kskup debug dump - -n west --context a > west.tar.gz  to stdout
  tar -xzf west.tar.gz && cat kskup-dump-west-*/README.txt

The archive holds one folder, kskup-dump-SITE-TIME/, with README.txt (what
is inside, what was redacted, what could not be gathered), site.yaml,
router-config.json, management/*.json, logs/*.log, versions.json,
network.json and certificates.json. Private keys, token passwords and claim
secrets are never in it.`;

export function addDebugCommands(program: Command, context: CommandContext): void {
  const debug = program.command('debug').description('diagnose a site');
  addSiteOptions(
    debug
      .command('dump')
      .description('write a .tar.gz with what it takes to diagnose the site, secrets left out')
      .argument('<file>', 'the archive to write (.tar.gz); - writes it to stdout')
      .addOption(new Option('--force', 'overwrite FILE if it exists'))
      .addOption(new Option('--log-lines <n>', "the last N lines of each part's log").argParser(parsePositiveInteger).default(DEFAULT_LOG_LINES))
      .addOption(new Option('--timeout <seconds>', 'give up on the router (connecting, each management query) after this long').argParser(parseSeconds).default(5))
      .addHelpText('after', EXAMPLES),
  ).action(async (file: string, options: DumpCommandOptions) => {
    context.debug = options.debug === true;
    if (file !== '-') await checkOutputFile(file, options.force === true);
    if (file === '-' && context.io.stdoutBytes === undefined) throw new RuntimeError('this kskup cannot write bytes to stdout: give a FILE');
    const target = await resolveSite(options, context);
    const [{ gatherDump, readmeText }, { packArchive, writeArchiveFile }, { scrubPrivateKeys }] = await Promise.all([import('./gather-dump.js'), import('./archive.js'), import('./redact.js')]);
    const now = new Date();
    const gathered = await gatherDump(target, { logs: { lines: options.logLines, bytes: DUMP_LOG_BYTES }, timeoutMs: options.timeout * 1000, now });
    const { contents } = gathered;
    if (!contents.hasSiteData) {
      throw new RuntimeError(`nothing could be gathered of site "${target.namespace}" (${target.platform} platform), so no dump was written:\n${contents.problems.map((problem) => `  - ${problem}`).join('\n')}`);
    }
    const folder = `kskup-dump-${gathered.siteName}-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}`;
    // packArchive scrubs private key blocks from every file; README.txt says how many it will find (0 unless a part leaked one).
    const scrubbed = contents.files.reduce((count, entry) => count + scrubPrivateKeys(entry.text).found, 0);
    contents.addText('README.txt', readmeText(gathered, target, now, scrubbed), 'this file');
    const { bytes } = await packArchive(folder, contents.files, now);
    if (file === '-') context.io.stdoutBytes?.write(bytes);
    else await writeArchiveFile(file, bytes);
    if (contents.problems.length > 0) {
      context.io.stderr.write(`kskup: warning: the dump lacks what could not be gathered (also in its README.txt):\n${contents.problems.map((problem) => `  - ${problem}`).join('\n')}\n`);
    }
    if (file === '-') return;
    const summary = { file: resolve(file), folder, bytes: bytes.length, files: contents.files.map((entry) => entry.path).sort(), problems: contents.problems };
    context.io.stdout.write(
      await render(options.output, summary, () => `Dump of site "${gathered.siteName}" written to ${summary.file} (${contents.files.length} files, ${(bytes.length / 1024).toFixed(1)} KiB, folder ${folder}/)${contents.problems.length > 0 ? `; ${contents.problems.length} part(s) could not be gathered` : ''}\n`),
    );
  });
}

/** FILE must not exist (unless --force, and then be a file) and its folder must. */
async function checkOutputFile(file: string, force: boolean): Promise<void> {
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`FILE ${file} is a directory: name the archive to write`);
  if (existing && !force) throw new UsageError(`FILE ${file} exists: give --force to overwrite it`);
  const folder = dirname(resolve(file));
  const parent = await stat(folder).catch(() => undefined);
  if (!parent?.isDirectory()) throw new UsageError(`FILE ${file}: folder ${folder} does not exist`);
}
