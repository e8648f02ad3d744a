// A TLS bundle on the command line: a folder with tls.crt, tls.key and ca.crt
// (the Kubernetes TLS Secret's key names), read and checked before anything is
// stored, so that bad input is one line naming the file and nothing changes.
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SiteError } from '../../site-controller/site/errors.js';
import { nameProblem } from '../../site-controller/site/model.js';
import { BUNDLE_FILES, bundleUseProblem, checkTlsBundle, type BundleUse, type TlsBundle, type TlsBundleStore } from '../../site-controller/site/tls-bundles.js';
import { fileProblem, UsageError } from '../errors.js';

/** Whether `value` names an existing folder (else it is taken as a bundle name). */
export async function isFolder(value: string): Promise<boolean> {
  return stat(value).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/** Reads and checks the bundle in `folder`; UsageError naming `what` (the option or argument) and the file. */
export async function readBundleFolder(folder: string, what: string): Promise<TlsBundle> {
  const path = resolve(folder);
  const info = await stat(path).catch((error: unknown) => {
    throw new UsageError(`${what}: ${path}: ${fileProblem(error) === 'no such file' ? 'no such folder' : fileProblem(error)}`);
  });
  if (!info.isDirectory()) throw new UsageError(`${what}: ${path} is not a folder (give a folder with ${BUNDLE_FILES.cert}, ${BUNDLE_FILES.key} and ${BUNDLE_FILES.ca})`);
  const read = async (file: string): Promise<string | undefined> => {
    try {
      return await readFile(join(path, file), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UsageError(`${what}: cannot read ${join(path, file)}: ${fileProblem(error)}`);
    }
  };
  const [certPem, keyPem, caPem] = await Promise.all([read(BUNDLE_FILES.cert), read(BUNDLE_FILES.key), read(BUNDLE_FILES.ca)]);
  const bundle: TlsBundle = { ...(certPem !== undefined && { certPem }), ...(keyPem !== undefined && { keyPem }), ...(caPem !== undefined && { caPem }) };
  try {
    checkTlsBundle(bundle, (file) => `${what}: ${file === '' ? path : join(path, file)}`);
  } catch (error) {
    if (error instanceof SiteError) throw new UsageError(error.message);
    throw error;
  }
  return bundle;
}

/** The bundle name for a folder: `--name` if given, else the folder's own name, which must be a valid name. */
export function bundleName(folder: string, given: string | undefined, nameOption: string): string {
  const name = given ?? basename(resolve(folder));
  const problem = nameProblem(name);
  if (problem) {
    throw new UsageError(given === undefined ? `the folder ${resolve(folder)} cannot name a TLS bundle (${problem}): give ${nameOption}` : `option ${nameOption}: ${problem}`);
  }
  return name;
}

/**
 * A NAME_OR_FOLDER option: a folder is checked and imported as a bundle (named
 * by `name` or the folder); a name must be a bundle this site has, fit for
 * `use`, when `mustExist`. Returns the name and whether it was imported.
 */
export async function bundleFromOption(
  store: TlsBundleStore,
  value: string,
  option: string,
  use: BundleUse,
  given: { readonly name?: string; readonly nameOption: string; readonly mustExist: boolean },
): Promise<{ name: string; imported: boolean; found: boolean; replaced: boolean }> {
  if (await isFolder(value)) {
    const name = bundleName(value, given.name, given.nameOption);
    const bundle = await readBundleFolder(value, `option ${option}`);
    const problem = bundleUseProblem(name, { hasCert: bundle.certPem !== undefined, hasCa: bundle.caPem !== undefined }, use);
    if (problem) throw new UsageError(`option ${option}: ${resolve(value)}: ${problem}`);
    const replaced = (await store.readTlsBundle(name)) !== undefined;
    await store.writeTlsBundle(name, bundle);
    return { name, imported: true, found: true, replaced };
  }
  if (given.name !== undefined) throw new UsageError(`option ${given.nameOption} names a bundle imported from a folder, but ${option} "${value}" is not a folder`);
  const problem = nameProblem(value);
  if (problem) throw new UsageError(`option ${option}: "${value}" is neither a folder nor a bundle name (${problem.replace(/^"[^"]*" is not a valid name: /, '')})`);
  const bundle = await store.readTlsBundle(value);
  if (bundle) {
    const unfit = bundleUseProblem(value, { hasCert: bundle.certPem !== undefined && bundle.keyPem !== undefined, hasCa: bundle.caPem !== undefined }, use);
    if (unfit) throw new UsageError(`option ${option}: ${unfit}`);
  } else if (given.mustExist) {
    throw new UsageError(`option ${option}: no folder "${value}", and no TLS bundle of that name at this site (kskup tls list; kskup tls import FOLDER --name ${value})`);
  }
  return { name: value, imported: false, found: bundle !== undefined, replaced: false };
}
