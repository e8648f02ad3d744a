// A SiteStorage in memory for tests of the site operations: changes run one at
// a time, each seeing the document the previous one stored; stored documents
// are deep-frozen, so an operation that edits one in place instead of
// returning a new one throws.
import type { CertificateAuthority } from '../../site-controller/pki/index.js';
import type { SiteDocument } from '../../site-controller/site/model.js';
import type { Change, LinkSecrets, SiteStorage } from '../../site-controller/site/storage.js';

export class MemoryStorage implements SiteStorage {
  document: SiteDocument;
  readonly secrets = new Map<string, LinkSecrets>();
  /** How many changes stored a new document. */
  writes = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /** Without `ca`, asking for the CA is a test error. */
  constructor(
    document: SiteDocument,
    private readonly ca?: CertificateAuthority,
  ) {
    this.document = deepFreeze(document);
  }

  async read(): Promise<SiteDocument> {
    return this.document;
  }

  update<T>(change: (document: SiteDocument) => Change<T> | Promise<Change<T>>): Promise<T> {
    const run = this.queue.then(async () => {
      const { document, result } = await change(this.document);
      if (document !== undefined) {
        this.document = deepFreeze(document);
        this.writes += 1;
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  async certificateAuthority(): Promise<CertificateAuthority> {
    if (!this.ca) throw new Error('MemoryStorage: made without a CA');
    return this.ca;
  }

  async trustedCaPem(): Promise<string> {
    return (await this.certificateAuthority()).certPem;
  }

  async writeLinkSecrets(linkName: string, secrets: LinkSecrets): Promise<void> {
    this.secrets.set(linkName, secrets);
  }

  async removeLinkSecrets(linkName: string): Promise<void> {
    this.secrets.delete(linkName);
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
