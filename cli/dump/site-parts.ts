// The parts of a dump that every platform has: the site state, the
// certificates, the network view, the router's management answers, versions.
import { createRequire } from 'node:module';
import { certificateInfo } from '../../site-controller/pki/index.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import type { ManagementTarget } from '../../router/management/management-client.js';
import { VERSION } from '../../router/version.js';
import type { ResolvedSite } from '../site/site-options.js';
import { DumpContents, reason } from './dump-contents.js';
import { keepAllowed, POLICY_ALLOWED, redactSecretFields, SITE_DOCUMENT_ALLOWED } from './redact.js';

/** site.yaml: the site document by the allow-list; the document itself for the other parts, or undefined if it cannot be read. */
export async function addSiteState(dump: DumpContents, target: ResolvedSite): Promise<SiteDocument | undefined> {
  let document: SiteDocument | undefined;
  await dump.part('site state', async () => {
    document = await target.storage.read();
    const redacted: string[] = [];
    dump.addYaml('site.yaml', keepAllowed(document, SITE_DOCUMENT_ALLOWED, redacted), "the site's state (links, tokens, grants, services, listener ports), secrets replaced by <redacted>");
    dump.redactions.push(`site.yaml: copied by an allow-list of fields known to be safe; ${redacted.length === 0 ? 'nothing else was there' : `replaced by <redacted>: ${redacted.join(', ')}`}`);
  });
  return document;
}

/**
 * policy.yaml: the site's policy (the `policy` of the site document,
 * docs/policy.md) by its allow-list, in the shape `kskup policy set` and
 * `kskup policy check FILE` take, so that it can be tried elsewhere. Returns
 * whether the site has one.
 */
export function addPolicy(dump: DumpContents, document: SiteDocument): boolean {
  if (document.policy === undefined) return false;
  const redacted: string[] = [];
  dump.addYaml('policy.yaml', keepAllowed(document.policy, POLICY_ALLOWED, redacted), "the site's policy (kskup policy show), as kskup policy set takes it");
  if (redacted.length > 0) dump.redactions.push(`policy.yaml: copied by an allow-list of the policy's fields; replaced by <redacted>: ${redacted.join(', ')}`);
  return true;
}

/** certificates.json: who each certificate names, who signed it, its serial and validity; never a key. */
export async function addCertificates(dump: DumpContents, target: ResolvedSite, document: SiteDocument): Promise<void> {
  await dump.part('certificates', async () => {
    const store = target.certificates;
    const describe = (what: string, pem: string) => {
      try {
        // A PEM file may hold a chain (a CA rotation's two CAs): each certificate of it.
        const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
        return blocks.map((block) => {
          const info = certificateInfo(block);
          return {
            certificate: what,
            subject: info.subjectCommonName,
            issuer: info.issuerCommonName,
            serial: info.serialHex,
            notBefore: info.notBefore.toISOString(),
            notAfter: info.notAfter.toISOString(),
            ...(info.dnsNames.length > 0 && { dnsNames: info.dnsNames }),
            ...(info.ipAddresses.length > 0 && { ipAddresses: info.ipAddresses }),
          };
        });
      } catch (error) {
        return [{ certificate: what, problem: reason(error) }];
      }
    };
    const [ca, next, server, trusted] = await Promise.all([store.siteCertificateAuthority(), store.nextCertificateAuthority(), store.serverCertificate(), store.trustedCaPem()]);
    const certificates = [...describe('site CA', ca.certPem), ...(next ? describe('next site CA (rotation)', next.certPem) : []), ...describe('server certificate', server.certPem), ...describe('trusted CAs (client certificates of links in)', trusted)];
    for (const link of document.links) {
      const pem = await store.linkCertificate(link.name);
      certificates.push(...(pem === undefined ? [{ certificate: `link "${link.name}" client certificate`, problem: 'not there yet' }] : describe(`link "${link.name}" client certificate`, pem)));
    }
    const bundles = await target.tlsBundles.listTlsBundles();
    for (const name of bundles) {
      const bundle = await target.tlsBundles.readTlsBundle(name);
      if (bundle?.certPem !== undefined) certificates.push(...describe(`TLS bundle "${name}" certificate`, bundle.certPem));
      if (bundle?.caPem !== undefined) certificates.push(...describe(`TLS bundle "${name}" CA`, bundle.caPem));
    }
    dump.addJson('certificates.json', { certificates }, "the site's certificates: subject, issuer, serial, validity (no keys)");
  });
}

/** network.json: what the site's controller last recorded of the network (the view of `kskup network status`). */
export async function addNetworkView(dump: DumpContents, target: ResolvedSite): Promise<void> {
  await dump.part('network view', async () => {
    const snapshot = await target.readSnapshot();
    if (snapshot === undefined) throw new Error('the site has not recorded one (its controller has not run, or has not heard from the network yet)');
    dump.addJson('network.json', redactSecretFields(snapshot), 'the network as this site last saw it: sites, links, services (kskup network status)');
  });
}

/**
 * Entity types asked of the router (docs/management.md): its attributes, the
 * connections, the network, addresses, the links of flows, the listeners and
 * connectors (inter-router links), sslProfiles (file names, not their
 * contents), the service listeners and connectors, and the open flows.
 */
export const MANAGEMENT_TYPES = ['router', 'connection', 'router.node', 'router.address', 'router.link', 'listener', 'connector', 'sslProfile', 'tcpListener', 'tcpConnector', 'address', 'flow'] as const;

export interface RouterReach {
  readonly target: ManagementTarget;
  /** For README.txt and errors: `the site process's router at 127.0.0.1:5671`. */
  readonly where: string;
}

/**
 * management/TYPE.json for each MANAGEMENT_TYPES; a query that fails is
 * management/TYPE.error.txt, and a router that cannot be reached at all
 * management/ERROR.txt. Returns the router's version, if it said.
 */
export async function addManagement(dump: DumpContents, reach: RouterReach, timeoutMs: number): Promise<string | undefined> {
  const { ManagementClient, ManagementStatusError } = await import('../../router/management/management-client.js');
  let client;
  try {
    client = await ManagementClient.connect(reach.target, { timeoutMs });
  } catch (error) {
    dump.addText('management/ERROR.txt', `The router could not be asked (${reach.where}):\n${reason(error)}\n`, 'why there are no management answers');
    dump.problem('router management', `${reach.where}: ${reason(error)}`);
    return undefined;
  }
  let version: string | undefined;
  // A router that stopped answering (a timeout, a lost connection; not an error status) is not asked the rest: each would wait out the timeout too.
  let silent: string | undefined;
  try {
    for (const type of MANAGEMENT_TYPES) {
      if (silent !== undefined) {
        dump.addText(`management/${type}.error.txt`, `QUERY ${type} to ${reach.where} was not sent: the router stopped answering (${silent})\n`, `why the ${type} query has no answer`);
        dump.problem(`management query ${type}`, 'not sent: the router stopped answering');
        continue;
      }
      try {
        const results = await client.query(type);
        if (type === 'router' && typeof results[0]?.version === 'string') version = results[0].version;
        const redacted: string[] = [];
        dump.addJson(`management/${type}.json`, { entityType: type, router: reach.where, results: redactSecretFields(results, redacted) }, `the router's ${type} entities (management QUERY)`);
        if (redacted.length > 0) dump.redactions.push(`management/${type}.json: values of ${[...new Set(redacted.map((path) => path.replace(/^\[\d+\]\./, '')))].join(', ')}`);
      } catch (error) {
        dump.addText(`management/${type}.error.txt`, `QUERY ${type} to ${reach.where} failed:\n${reason(error)}\n`, `why the ${type} query has no answer`);
        dump.problem(`management query ${type}`, error);
        if (!(error instanceof ManagementStatusError)) silent = reason(error);
      }
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return version;
}

/** The version of an installed package, or `unknown`. */
export function packageVersion(name: string): string {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** versions.json's fields every dump has. */
export function baseVersions(): Record<string, unknown> {
  return { kskup: VERSION, node: process.version, rhea: packageVersion('rhea'), os: `${process.platform} ${process.arch}` };
}
