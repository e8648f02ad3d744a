// Service IP and node-port allocation (the real server's service REST storage
// with its ipallocator and portallocator). What is allocated is read from the
// stored Services each time, so deleting a Service frees its IP and ports
// without separate bookkeeping.

import { cause, type FieldCause } from './status.js';
import type { KubeObject } from './store.js';

export interface ServiceRanges {
  /** IPv4 CIDR of cluster IPs, e.g. "10.96.0.0/16" (kube-apiserver --service-cluster-ip-range). */
  readonly serviceCidr: string;
  /** Inclusive node-port range (kube-apiserver --service-node-port-range, default 30000-32767). */
  readonly nodePortMin: number;
  readonly nodePortMax: number;
}

type Obj = Record<string, unknown>;

function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return Number.NaN;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The usable addresses of a CIDR: [first, last], without the network and broadcast addresses. */
export function cidrRange(cidr: string): [number, number] {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  const start = ipToInt(base ?? '');
  if (Number.isNaN(start) || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`serviceCidr ${JSON.stringify(cidr)} is not an IPv4 CIDR with a prefix of 8 to 30 bits`);
  const size = 2 ** (32 - prefix);
  const network = start - (start % size);
  return [network + 1, network + size - 2];
}

function portsOf(svc: KubeObject): Obj[] {
  const spec = svc.spec as Obj | undefined;
  return Array.isArray(spec?.ports) ? (spec.ports as Obj[]) : [];
}

/**
 * Fills in spec.clusterIP, clusterIPs, ipFamilies, ipFamilyPolicy and node ports
 * of `svc` (a private, defaulted, validated copy), keeping what `old` had when
 * the new spec leaves it out. `others` are the other stored Services.
 * @returns the allocation problems (an address or port taken or out of range).
 */
export function allocateService(svc: KubeObject, old: KubeObject | undefined, others: readonly KubeObject[], ranges: ServiceRanges): FieldCause[] {
  const out: FieldCause[] = [];
  const spec = svc.spec as Obj;
  const oldSpec = (old?.spec ?? {}) as Obj;
  if (spec.type === 'ExternalName') {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    return out;
  }
  const [first, last] = cidrRange(ranges.serviceCidr);
  const usedIps = new Set(others.map((o) => (o.spec as Obj | undefined)?.clusterIP).filter((ip): ip is string => typeof ip === 'string'));
  if ((spec.clusterIP === undefined || spec.clusterIP === '') && typeof oldSpec.clusterIP === 'string') spec.clusterIP = oldSpec.clusterIP;
  if (spec.clusterIP === undefined || spec.clusterIP === '') {
    let ip = first;
    while (ip <= last && usedIps.has(intToIp(ip))) ip++;
    if (ip > last) out.push(cause.invalid('spec.clusterIPs', [], `failed to allocate IP: range ${ranges.serviceCidr} is full`));
    else spec.clusterIP = intToIp(ip);
  } else if (spec.clusterIP !== 'None' && spec.clusterIP !== oldSpec.clusterIP) {
    const n = ipToInt(String(spec.clusterIP));
    if (Number.isNaN(n) || n < first || n > last) {
      out.push(cause.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${String(spec.clusterIP)}: provided IP is not in the valid range. The range of valid IPs is ${ranges.serviceCidr}`));
    } else if (usedIps.has(String(spec.clusterIP))) {
      out.push(cause.invalid('spec.clusterIPs', [spec.clusterIP], `failed to allocate IP ${String(spec.clusterIP)}: provided IP is already allocated`));
    }
  }
  if (typeof spec.clusterIP === 'string') spec.clusterIPs = [spec.clusterIP];
  spec.ipFamilies ??= ['IPv4'];
  spec.ipFamilyPolicy ??= 'SingleStack';

  const wantsNodePorts = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (!wantsNodePorts) return out;
  const usedPorts = new Set<number>();
  for (const o of others) for (const p of portsOf(o)) if (typeof p.nodePort === 'number') usedPorts.add(p.nodePort);
  const oldPorts = old === undefined ? [] : portsOf(old);
  const ports = portsOf(svc);
  const oldNodePorts = new Set(oldPorts.map((p) => p.nodePort));
  ports.forEach((p, i) => {
    if (typeof p.nodePort === 'number' && p.nodePort !== 0) {
      if (oldNodePorts.has(p.nodePort)) return;
      if (p.nodePort < ranges.nodePortMin || p.nodePort > ranges.nodePortMax) {
        out.push(cause.invalid(`spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${ranges.nodePortMin}-${ranges.nodePortMax}`));
      } else if (usedPorts.has(p.nodePort)) {
        out.push(cause.invalid(`spec.ports[${i}].nodePort`, p.nodePort, 'provided port is already allocated'));
      }
    }
  });
  for (const p of ports) if (typeof p.nodePort === 'number' && p.nodePort !== 0) usedPorts.add(p.nodePort);
  for (const p of ports) {
    if (typeof p.nodePort === 'number' && p.nodePort !== 0) continue;
    // Kept on update: the old port with the same number and protocol keeps its node port.
    const before = oldPorts.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
    if (typeof before?.nodePort === 'number' && !ports.some((q) => q !== p && q.nodePort === before.nodePort)) {
      p.nodePort = before.nodePort;
      continue;
    }
    let n = ranges.nodePortMin;
    while (n <= ranges.nodePortMax && usedPorts.has(n)) n++;
    if (n > ranges.nodePortMax) {
      out.push(cause.invalid('spec.ports', p.port, 'failed to allocate a node port: range is full'));
      break;
    }
    p.nodePort = n;
    usedPorts.add(n);
  }
  return out;
}
