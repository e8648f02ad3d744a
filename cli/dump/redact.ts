// What `kskup debug dump` leaves out of what it copies. Three layers, because
// a dump is sent to other people and a leak cannot be called back:
// - the site document is copied by an allow-list (SITE_DOCUMENT_ALLOWED): a
//   field kskup adds later is `<redacted>` until someone decides it is safe;
// - everything else structured (router config, management answers, the
//   network view, JSON log lines) loses the value of every field whose name
//   suggests a secret (isSecretName);
// - every text that goes into the archive is scrubbed of PEM private key
//   blocks last (scrubPrivateKeys), whatever its origin.

export const REDACTED = '<redacted>';

/**
 * An allow-list: `true` keeps the value and all below it; an object keeps the
 * named fields (each by its own rule); `[rule]` applies the rule to every
 * element of an array.
 */
export type Allowed = true | { readonly [field: string]: Allowed } | readonly [Allowed];

const PORTS: Allowed = true;

/**
 * The fields of a site policy (site-controller/policy/site-policy.ts): site
 * names and ids, host, resource and service name patterns, none of them a
 * secret. A field added to the policy later is `<redacted>` until it is listed.
 */
export const POLICY_ALLOWED: Allowed = {
  apiVersion: true,
  kind: true,
  incomingLinks: true,
  outgoingLinks: true,
  exposedResources: true,
  importedServices: true,
  serviceAccess: [{ service: true, sites: true }],
};

/**
 * The fields of the site document (site-controller/site/model.ts) that are
 * safe to show. Left out on purpose: TokenRecord.passwordSha256 (the hash of a
 * claim's password; a guessable password would fall to it).
 */
export const SITE_DOCUMENT_ALLOWED: Allowed = {
  site: { name: true, id: true, mode: true, platform: true, ingressHost: true, ingress: true, bindHost: true, listenerHost: true, ports: PORTS, createdAt: true },
  links: [{ name: true, host: true, port: true, role: true, cost: true, remoteSiteId: true, remoteSiteName: true, tokenName: true, createdAt: true }],
  tokens: [{ name: true, type: true, createdAt: true, expiresAt: true, usesAllowed: true, usesMade: true, revokedAt: true }],
  grants: [{ serial: true, tokenName: true, siteId: true, siteName: true, issuedAt: true, expiresAt: true, revokedAt: true, caSerial: true }],
  services: [
    {
      address: true,
      protocol: true,
      ports: true,
      targets: [{ type: true, name: true, host: true, targetPorts: true, tlsTrust: { name: true, verifyHostname: true }, pod: true, source: true }],
      tlsCredentials: true,
      backlog: true,
      createdAt: true,
    },
  ],
  // address:port -> local port.
  listenerPorts: true,
  caRotation: { startedAt: true, fromCaSerial: true, toCaSerial: true },
  policy: POLICY_ALLOWED,
};

/** Where a value was replaced, as a path (`tokens[0].passwordSha256`): README.txt lists them. */
export type RedactedPaths = string[];

/** A copy of `value` with what `allowed` does not name replaced by REDACTED; the paths replaced are pushed onto `redacted`. */
export function keepAllowed(value: unknown, allowed: Allowed, redacted: RedactedPaths, path = ''): unknown {
  if (allowed === true) return value;
  if (Array.isArray(allowed)) {
    if (!Array.isArray(value)) return redactedAt(value, redacted, path);
    return value.map((element, index) => keepAllowed(element, allowed[0] as Allowed, redacted, `${path}[${index}]`));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return redactedAt(value, redacted, path);
  const rules = allowed as { readonly [field: string]: Allowed };
  const copy: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(value)) {
    const where = path === '' ? field : `${path}.${field}`;
    const rule = Object.hasOwn(rules, field) ? rules[field] : undefined;
    copy[field] = rule === undefined ? redactedAt(inner, redacted, where) : keepAllowed(inner, rule, redacted, where);
  }
  return copy;
}

function redactedAt(value: unknown, redacted: RedactedPaths, path: string): unknown {
  if (value === undefined) return value;
  redacted.push(path === '' ? '(the whole value)' : path);
  return REDACTED;
}

/**
 * Names that suggest a secret: passwords and passphrases, secrets, tokens
 * (not token names), private keys and key material, credentials, bearer and
 * authorization values, cookies, and password hashes. A name ending in
 * `File` or `Path` names where a secret is, not the secret (skupper-router's
 * `privateKeyFile`, `passwordFile`), and is kept: it is what a diagnosis needs.
 */
export function isSecretName(name: string): boolean {
  if (/(?:File|Files|Path|Name|Names)$/.test(name)) return false;
  return /pass(?:word|phrase|wd)?|secret|token|private|key(?:pem|data)?$|^key|credential|bearer|authori[sz]ation|cookie|sha256|hash|salt|signature/i.test(name);
}

/** A copy of `value` (parsed JSON) with the value of every field named like a secret replaced by REDACTED; paths pushed onto `redacted`. */
export function redactSecretFields(value: unknown, redacted?: RedactedPaths, path = ''): unknown {
  if (Array.isArray(value)) return value.map((element, index) => redactSecretFields(element, redacted, `${path}[${index}]`));
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [field, inner] of Object.entries(value)) {
    const where = path === '' ? field : `${path}.${field}`;
    if (isSecretName(field) && inner !== null && inner !== undefined && inner !== '' && (typeof inner !== 'object' || Object.keys(inner).length > 0)) {
      redacted?.push(where);
      copy[field] = REDACTED;
    } else {
      copy[field] = redactSecretFields(inner, redacted, where);
    }
  }
  return copy;
}

/** PEM blocks of private keys of every kind (PKCS#8, PKCS#1 RSA, EC, encrypted, OpenSSH). */
const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;

/** `text` with every PEM private key block (or the start of one cut off) replaced by a marker that names no key. */
export function scrubPrivateKeys(text: string): { text: string; found: number } {
  let found = 0;
  const scrubbed = text.replace(PRIVATE_KEY_BLOCK, () => {
    found++;
    return '<redacted private key>';
  });
  return { text: scrubbed, found };
}

/**
 * A log's lines with secrets removed: a JSON line (the routers' and sites'
 * pino lines, the supervisor's) by field name, any other line as it is;
 * private key blocks are scrubbed from the whole afterwards by the archive.
 */
export function redactLogLines(text: string): { text: string; redacted: number } {
  let redacted = 0;
  const lines = text.split('\n').map((line) => {
    if (!line.startsWith('{')) return line;
    try {
      const paths: RedactedPaths = [];
      const clean = redactSecretFields(JSON.parse(line), paths);
      if (paths.length === 0) return line;
      redacted += paths.length;
      return JSON.stringify(clean);
    } catch {
      return line;
    }
  });
  return { text: lines.join('\n'), redacted };
}
