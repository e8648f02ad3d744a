// Service names where a port number goes (`port: amqp`). skupper-router hands
// the port string to Proton, which resolves it with getaddrinfo, i.e. the
// system's services database (/etc/services). kskup does the same lookup from
// the file, with the IANA numbers of the common names as a fallback for hosts
// (minimal containers) that have no /etc/services.
//
// KSKUP_SERVICES_FILE names a services file (same format) that is read first:
// the one place where a deployment or a test maps a name such as `amqp` to
// another port (a test cannot bind 5672 on a shared machine).
import { readFileSync } from 'node:fs';

/** IANA's registrations of the names found in router config files. */
const IANA_TCP_PORTS: ReadonlyMap<string, number> = new Map([
  ['amqp', 5672],
  ['amqps', 5671],
  ['http', 80],
  ['www', 80],
  ['https', 443],
  ['http-alt', 8080],
  ['webcache', 8080],
]);

export const SERVICES_FILE_VARIABLE = 'KSKUP_SERVICES_FILE';
const SYSTEM_SERVICES_FILE = '/etc/services';

const cache = new Map<string, ReadonlyMap<string, number>>();

/** TCP ports by service name and alias from a services(5) file; empty when it cannot be read. */
function servicesFile(path: string): ReadonlyMap<string, number> {
  const cached = cache.get(path);
  if (cached !== undefined) return cached;
  const ports = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // No services database: only the fallback table applies.
  }
  for (const line of text.split('\n')) {
    const [name, portProtocol, ...aliases] = (line.split('#')[0] ?? '').trim().split(/\s+/);
    const match = /^(\d+)\/tcp$/.exec(portProtocol ?? '');
    if (name === undefined || name === '' || match === null) continue;
    const port = Number(match[1]);
    for (const key of [name, ...aliases]) if (!ports.has(key)) ports.set(key, port);
  }
  cache.set(path, ports);
  return ports;
}

/**
 * The TCP port of a service name (`amqp` -> 5672), looked up in
 * $KSKUP_SERVICES_FILE, then /etc/services, then IANA's numbers for the common
 * names; undefined when no source knows it. Names are case-sensitive, as in
 * getaddrinfo.
 */
export function servicePort(name: string): number | undefined {
  const override = process.env[SERVICES_FILE_VARIABLE];
  if (override !== undefined && override !== '') {
    const port = servicesFile(override).get(name);
    if (port !== undefined) return port;
  }
  return servicesFile(SYSTEM_SERVICES_FILE).get(name) ?? IANA_TCP_PORTS.get(name);
}
