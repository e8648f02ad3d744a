// Finds where to reach a router from its config file: the first `normal`
// listener, as skstat would be pointed at it. Only listeners are read, and
// loosely: a command inspecting a running router should not refuse to work
// because some other entity in the file would not pass the router's checks.
import { readFile } from 'node:fs/promises';
import { fileProblem, RuntimeError } from './errors.js';

export interface ConfiguredListener {
  readonly name: string;
  /** Where a local client connects: wildcard hosts become loopback. */
  readonly host: string;
  readonly port: number;
  readonly sslProfile?: string;
}

/** skupper accepts these service names where a port number goes. */
const SERVICE_PORTS: Readonly<Record<string, number>> = { amqp: 5672, amqps: 5671 };

/** Listening on every address means reachable on loopback. */
const LOOPBACK_FOR: Readonly<Record<string, string>> = { '': '127.0.0.1', '0.0.0.0': '127.0.0.1', '::': '::1' };

export async function readNormalListener(file: string): Promise<ConfiguredListener> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new RuntimeError(`cannot read router config ${file}: ${fileProblem(error)}`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch {
    // JSON.parse's message quotes the file, which may hold a password.
    throw new RuntimeError(`router config ${file} is not valid JSON`);
  }
  return pickNormalListener(document, file);
}

export function pickNormalListener(document: unknown, file: string): ConfiguredListener {
  if (!Array.isArray(document)) throw new RuntimeError(`router config ${file} is not an array of [type, attributes] pairs`);
  const listeners = document.flatMap((entry: unknown) => {
    if (!Array.isArray(entry) || entry[0] !== 'listener') return [];
    const attributes: unknown = entry[1];
    return typeof attributes === 'object' && attributes !== null ? [attributes as Record<string, unknown>] : [];
  });
  const listener = listeners.find((l) => (l['role'] ?? 'normal') === 'normal' && !isTrue(l['http']));
  if (!listener) throw new RuntimeError(`router config ${file} has no normal AMQP listener: give --host and --port`);

  const port = toPort(listener['port']);
  const host = typeof listener['host'] === 'string' ? listener['host'] : '';
  const name = typeof listener['name'] === 'string' ? listener['name'] : `${host}:${String(listener['port'])}`;
  if (port === undefined) {
    throw new RuntimeError(`router config ${file}: listener "${name}" has no usable port (${JSON.stringify(listener['port'])})`);
  }
  if (port === 0) throw new RuntimeError(`router config ${file}: listener "${name}" has port 0 (chosen at start): give --host and --port`);
  const sslProfile = typeof listener['sslProfile'] === 'string' ? listener['sslProfile'] : undefined;
  return { name, host: LOOPBACK_FOR[host.trim()] ?? host.trim(), port, ...(sslProfile ? { sslProfile } : {}) };
}

/** skupper-router writes numbers and booleans as JSON strings as often as not. */
function toPort(raw: unknown): number | undefined {
  if (typeof raw === 'string' && SERVICE_PORTS[raw.trim()] !== undefined) return SERVICE_PORTS[raw.trim()];
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  return Number.isInteger(value) && value >= 0 && value <= 65535 ? value : undefined;
}

function isTrue(raw: unknown): boolean {
  return raw === true || (typeof raw === 'string' && raw.trim().toLowerCase() === 'true');
}
