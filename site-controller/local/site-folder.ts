// A local site is a folder: $KSKUP_HOME/<namespace>. The state document is
// site.json; certificates and keys are PEM files beside it (keys mode 0600,
// folders 0700); router.json is derived from the state by the site process.
// Writers take a lock on the folder (the CLI and the site's claims endpoint
// both change site.json), and every file is replaced by rename, never rewritten
// in place, so a reader sees the old file or the new one, never half of one.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CertificateAuthority } from '../pki/index.js';
import type { SiteIdentity } from '../site/new-site.js';
import type { SiteState } from '../site/desired-router-config.js';
import { SiteError } from '../site/errors.js';
import { nameProblem, revokedSerials, type SiteDocument } from '../site/model.js';
import { BUNDLE_FILES, type TlsBundle, type TlsBundleFiles, type TlsBundleStore } from '../site/tls-bundles.js';
import type { Change, KeyedCertificate, LinkSecrets, SiteCertificateStore, SiteStorage } from '../site/storage.js';
import { atomicWrite } from './atomic-write.js';

export { atomicWrite };

export type Env = Readonly<Record<string, string | undefined>>;

/** $KSKUP_HOME, else $XDG_DATA_HOME/kskup, else ~/.local/share/kskup. */
export function kskupHome(env: Env): string {
  if (env.KSKUP_HOME) return env.KSKUP_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'kskup');
  return join(env.HOME ?? homedir(), '.local', 'share', 'kskup');
}

const SECRET_MODE = 0o600;
const PUBLIC_MODE = 0o644;
const FOLDER_MODE = 0o700;

export class SiteFolder implements SiteStorage, SiteCertificateStore, TlsBundleStore {
  constructor(readonly path: string) {}

  static of(env: Env, namespace: string): SiteFolder {
    return new SiteFolder(join(kskupHome(env), namespace));
  }

  get stateFile(): string {
    return join(this.path, 'site.json');
  }
  get routerConfigFile(): string {
    return join(this.path, 'router.json');
  }
  /** What the site's controller knows of the network (written by the site process). */
  get networkFile(): string {
    return join(this.path, 'network.json');
  }
  /** Present while the site is being deleted: its process then says goodbye to the network. */
  get leavingFile(): string {
    return join(this.path, 'leaving');
  }
  /** The supervisor's pid, written once the site first came up, removed when it stops (supervisor.ts). */
  get pidFile(): string {
    return join(this.path, 'site.pid');
  }
  get logFile(): string {
    return join(this.path, 'site.log');
  }
  /** What the supervisor records of the site process: its state, restarts, last exit (supervisor-record.ts). */
  get supervisorFile(): string {
    return join(this.path, 'supervisor.json');
  }
  /** The site CA: its certificate, and the key that issues every certificate of the site (mode 0600). */
  get caFiles() {
    return { cert: join(this.path, 'ca', 'tls.crt'), key: join(this.path, 'ca', 'tls.key') };
  }
  /** The CA a rotation moves to, from `rotate-certs --ca` to its `--finish`. */
  private get nextCaFiles() {
    return { cert: join(this.path, 'ca-next', 'tls.crt'), key: join(this.path, 'ca-next', 'tls.key') };
  }
  /** The site listeners' certificate, and `ca`: the CAs whose client certificates they accept (both during a CA rotation). */
  get serverFiles() {
    return { cert: join(this.path, 'server', 'tls.crt'), key: join(this.path, 'server', 'tls.key'), ca: join(this.path, 'server', 'ca.crt') };
  }
  /** The router's local AMQP listener: its CA, its server certificate, and the client certificate the CLI and controller use. */
  get localFiles() {
    const folder = join(this.path, 'local');
    return {
      ca: join(folder, 'ca.crt'),
      serverCert: join(folder, 'server.crt'),
      serverKey: join(folder, 'server.key'),
      clientCert: join(folder, 'client.crt'),
      clientKey: join(folder, 'client.key'),
    };
  }

  /** What a client of the local listener presents: read when connecting, so only the folder's owner can. */
  async localClientTls(): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
    const files = this.localFiles;
    const [ca, cert, key] = await Promise.all([readFile(files.ca), readFile(files.clientCert), readFile(files.clientKey)]);
    return { ca, cert, key };
  }

  linkFiles(name: string) {
    const folder = join(this.path, 'links', name);
    return { folder, ca: join(folder, 'ca.crt'), cert: join(folder, 'tls.crt'), key: join(folder, 'tls.key') };
  }

  /** The TLS bundles of services (tls-bundles.ts): one folder each, with the Kubernetes TLS Secret's key names. */
  get tlsFolder(): string {
    return join(this.path, 'tls');
  }

  tlsBundleFiles(name: string) {
    const folder = join(this.tlsFolder, name);
    return { folder, cert: join(folder, BUNDLE_FILES.cert), key: join(folder, BUNDLE_FILES.key), ca: join(folder, BUNDLE_FILES.ca) };
  }

  async listTlsBundles(): Promise<string[]> {
    return Object.keys(this.tlsBundlesHere()).sort();
  }

  async readTlsBundle(name: string): Promise<TlsBundle | undefined> {
    const files = this.tlsBundleFiles(name);
    const read = (file: string) => readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    const [certPem, keyPem, caPem] = await Promise.all([read(files.cert), read(files.key), read(files.ca)]);
    if (certPem === undefined && caPem === undefined) return undefined;
    return { ...(certPem !== undefined && { certPem }), ...(keyPem !== undefined && { keyPem }), ...(caPem !== undefined && { caPem }) };
  }

  /**
   * Written into a new folder that is renamed into place (the old one removed
   * first): the site process never pairs an old key with a new certificate.
   */
  async writeTlsBundle(name: string, bundle: TlsBundle): Promise<void> {
    const files = this.tlsBundleFiles(name);
    const staging = `${files.folder}.${randomBytes(4).toString('hex')}.tmp`;
    await mkdir(staging, { recursive: true, mode: FOLDER_MODE });
    try {
      if (bundle.certPem !== undefined) await writeFile(join(staging, BUNDLE_FILES.cert), bundle.certPem, { mode: PUBLIC_MODE });
      if (bundle.keyPem !== undefined) await writeFile(join(staging, BUNDLE_FILES.key), bundle.keyPem, { mode: SECRET_MODE });
      if (bundle.caPem !== undefined) await writeFile(join(staging, BUNDLE_FILES.ca), bundle.caPem, { mode: PUBLIC_MODE });
      await rm(files.folder, { recursive: true, force: true });
      await rename(staging, files.folder);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async removeTlsBundle(name: string): Promise<boolean> {
    const files = this.tlsBundleFiles(name);
    const there = await stat(files.folder).then(
      () => true,
      () => false,
    );
    await rm(files.folder, { recursive: true, force: true });
    return there;
  }

  /**
   * The bundles here as the router config names them. Synchronous, as the
   * router config is a pure function of what is read here; the site process
   * looks every 2 s, so an imported bundle is used within that.
   */
  private tlsBundlesHere(): Record<string, TlsBundleFiles> {
    let names: string[];
    try {
      names = readdirSync(this.tlsFolder).filter((name) => nameProblem(name) === undefined);
    } catch {
      return {};
    }
    const bundles: Record<string, TlsBundleFiles> = {};
    for (const name of names) {
      const files = this.tlsBundleFiles(name);
      const hasCert = existsSync(files.cert) && existsSync(files.key);
      const hasCa = existsSync(files.ca);
      if (!hasCert && !hasCa) continue;
      bundles[name] = { ...(hasCert && { certFile: files.cert, privateKeyFile: files.key }), ...(hasCa && { caCertFile: files.ca }) };
    }
    return bundles;
  }

  async exists(): Promise<boolean> {
    return stat(this.stateFile).then(
      () => true,
      () => false,
    );
  }

  /** Writes a new site; the state file comes last, so a site that exists is complete. */
  async create(document: SiteDocument, identity: Pick<SiteIdentity, 'ca' | 'server' | 'local'>): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: FOLDER_MODE });
    await writeSecretPair(this.caFiles, identity.ca.certPem, identity.ca.keyPem);
    await writeSecretPair(this.serverFiles, identity.server.certPem, identity.server.keyPem);
    await atomicWrite(this.serverFiles.ca, identity.ca.certPem, PUBLIC_MODE);
    const local = this.localFiles;
    await writeSecretPair({ cert: local.serverCert, key: local.serverKey }, identity.local.server.certPem, identity.local.server.keyPem);
    await writeSecretPair({ cert: local.clientCert, key: local.clientKey }, identity.local.client.certPem, identity.local.client.keyPem);
    await atomicWrite(local.ca, identity.local.caPem, PUBLIC_MODE);
    await atomicWrite(this.stateFile, json(document), PUBLIC_MODE);
  }

  async read(): Promise<SiteDocument> {
    let text: string;
    try {
      text = await readFile(this.stateFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SiteError(`no site in ${this.path}: create one with kskup init`);
      throw new SiteError(`cannot read ${this.stateFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    try {
      return withDefaults(JSON.parse(text) as SiteDocument);
    } catch {
      throw new SiteError(`${this.stateFile} is damaged (not JSON); delete the site with kskup delete and create it again`);
    }
  }

  async update<T>(change: (document: SiteDocument) => Change<T> | Promise<Change<T>>): Promise<T> {
    if (!(await this.exists())) await this.read();
    const { default: lockfile } = await import('proper-lockfile');
    const release = await lockfile.lock(this.path, {
      lockfilePath: join(this.path, 'state.lock'),
      // A crashed holder's lock is taken over after `stale` ms; others wait their turn.
      stale: 10_000,
      retries: { retries: 100, minTimeout: 10, maxTimeout: 100 },
    });
    try {
      const outcome = await change(await this.read());
      if (outcome.document) await atomicWrite(this.stateFile, json(outcome.document), PUBLIC_MODE);
      return outcome.result;
    } finally {
      await release();
    }
  }

  async certificateAuthority(): Promise<CertificateAuthority> {
    return (await this.nextCertificateAuthority()) ?? this.siteCertificateAuthority();
  }

  async siteCertificateAuthority(): Promise<CertificateAuthority> {
    const [certPem, keyPem] = await Promise.all([readFile(this.caFiles.cert, 'utf8'), readFile(this.caFiles.key, 'utf8')]);
    return { certPem, keyPem };
  }

  async nextCertificateAuthority(): Promise<CertificateAuthority | undefined> {
    const [certPem, keyPem] = await Promise.all([readIfThere(this.nextCaFiles.cert), readIfThere(this.nextCaFiles.key)]);
    return certPem !== undefined && keyPem !== undefined ? { certPem, keyPem } : undefined;
  }

  /** server/ca.crt; a site made before kskup wrote it trusts its CA alone. */
  async trustedCaPem(): Promise<string> {
    return (await readIfThere(this.serverFiles.ca)) ?? readFile(this.caFiles.cert, 'utf8');
  }

  /** Writes server/ca.crt where a site made by an older kskup lacks it: the router config names it from the start. */
  async ensureTrustFile(): Promise<void> {
    if (!existsSync(this.serverFiles.ca)) await atomicWrite(this.serverFiles.ca, await readFile(this.caFiles.cert, 'utf8'), PUBLIC_MODE);
  }

  async serverCertificate(): Promise<KeyedCertificate> {
    const [certPem, keyPem] = await Promise.all([readFile(this.serverFiles.cert, 'utf8'), readFile(this.serverFiles.key, 'utf8')]);
    return { certPem, keyPem };
  }

  /**
   * Trusted CAs first (new ones only add trust), then key and certificate. The
   * router checks the files every second: a key without its certificate does
   * not load, and the router keeps the pair it has until both are there.
   */
  async writeServerCertificate(server: KeyedCertificate, trustedCaPem: string): Promise<void> {
    await atomicWrite(this.serverFiles.ca, trustedCaPem, PUBLIC_MODE);
    await atomicWrite(this.serverFiles.key, server.keyPem, SECRET_MODE);
    await atomicWrite(this.serverFiles.cert, server.certPem, PUBLIC_MODE);
  }

  async writeNextCertificateAuthority(ca: CertificateAuthority): Promise<void> {
    await writeSecretPair(this.nextCaFiles, ca.certPem, ca.keyPem);
  }

  async promoteNextCertificateAuthority(): Promise<void> {
    const next = await this.nextCertificateAuthority();
    if (!next) throw new SiteError(`no next CA in ${this.path}/ca-next: nothing to promote`);
    await writeSecretPair(this.caFiles, next.certPem, next.keyPem);
    await rm(join(this.nextCaFiles.cert, '..'), { recursive: true, force: true });
  }

  async linkCertificate(linkName: string): Promise<string | undefined> {
    return readIfThere(this.linkFiles(linkName).cert);
  }

  async writeLinkSecrets(name: string, secrets: LinkSecrets): Promise<void> {
    const files = this.linkFiles(name);
    await mkdir(files.folder, { recursive: true, mode: FOLDER_MODE });
    await atomicWrite(files.ca, secrets.caPem, PUBLIC_MODE);
    await writeSecretPair(files, secrets.certPem, secrets.keyPem);
  }

  async removeLinkSecrets(name: string): Promise<void> {
    await rm(this.linkFiles(name).folder, { recursive: true, force: true });
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }

  /** The input of the router config: the document plus where this folder keeps the files. */
  routerState(document: SiteDocument): SiteState {
    const { site } = document;
    return {
      name: site.name,
      id: site.id,
      mode: site.mode,
      listenHost: site.bindHost,
      interRouterPort: site.ports.interRouter,
      edgePort: site.ports.edge,
      amqpPort: site.ports.amqp,
      httpPort: site.ports.http,
      caCertFile: this.serverFiles.ca,
      serverCertFile: this.serverFiles.cert,
      serverKeyFile: this.serverFiles.key,
      local: { caCertFile: this.localFiles.ca, certFile: this.localFiles.serverCert, privateKeyFile: this.localFiles.serverKey },
      revokedSerials: revokedSerials(document),
      links: document.links.map((link) => {
        const files = this.linkFiles(link.name);
        return { name: link.name, host: link.host, port: link.port, role: link.role, cost: link.cost, caCertFile: files.ca, certFile: files.cert, privateKeyFile: files.key };
      }),
      tlsBundles: this.tlsBundlesHere(),
    };
  }
}

/** Sites made by an earlier version lack the newer fields. */
function withDefaults(document: SiteDocument): SiteDocument {
  return {
    ...document,
    site: { ...document.site, listenerHost: document.site.listenerHost ?? '127.0.0.1', bindHost: document.site.bindHost ?? document.site.ingressHost },
    services: document.services ?? [],
    listenerPorts: document.listenerPorts ?? {},
  };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

async function writeSecretPair(files: { cert: string; key: string }, certPem: string, keyPem: string): Promise<void> {
  await mkdir(join(files.key, '..'), { recursive: true, mode: FOLDER_MODE });
  await atomicWrite(files.cert, certPem, PUBLIC_MODE);
  await atomicWrite(files.key, keyPem, SECRET_MODE);
}

async function readIfThere(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
}
