// The network of one cluster on this machine: a Linux bridge (the node), a
// network namespace per pod joined to it by a veth pair, the addresses the
// Services and load balancers take, and the clean-up of all of it.
//
// Every name carries the cluster index n, claimed atomically by creating the
// bridge kskr<n> (the kernel refuses a second link of the same name, so two
// runners in parallel test files can never share an index). The bridge's alias
// records the owner's pid; a bridge whose owner is gone is a crashed run's
// leftover and is removed with its namespaces before the index is reused.
//
//   pods    10.(100+n).0.0/16, the bridge (node address, default route) at .0.1
//   services 10.(150+n).0.0/16 (the API server double's serviceCidr)
//   load balancers 10.(200+n).0.0/24

import { readdir, rm } from 'node:fs/promises';
import { runCommand, tryCommand } from './run-command.js';

/** Prefixes that mark what a pod runner made (bridge, pod veth, netns); a leftover is recognised by them. */
export const BRIDGE_PREFIX = 'kskr';
export const VETH_PREFIX = 'kskv';
export const NETNS_PREFIX = 'kskp';
/** Cluster indexes 1..MAX_CLUSTERS: keeps the three ranges above apart and inside 10/8. */
const MAX_CLUSTERS = 40;

export interface PodNetwork {
  /** Network namespace name (`ip netns exec NAME ...`), also /etc/netns/NAME. */
  readonly netns: string;
  readonly ip: string;
  /** Host end of the veth pair. */
  readonly hostVeth: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LinkInfo {
  readonly ifname: string;
  readonly ifalias?: string;
}

async function bridges(): Promise<LinkInfo[]> {
  const out = await runCommand(['ip', '-j', 'link', 'show', 'type', 'bridge']);
  return (JSON.parse(out || '[]') as LinkInfo[]).filter((l) => l.ifname.startsWith(BRIDGE_PREFIX));
}

async function namespacesOf(index: number): Promise<string[]> {
  const out = await runCommand(['ip', 'netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${NETNS_PREFIX}${index}-`));
}

/** Kills what still runs in a namespace, then deletes it and its /etc/netns folder. */
async function removeNetns(name: string): Promise<void> {
  const pids = await runCommand(['ip', 'netns', 'pids', name]).catch(() => '');
  for (const pid of pids.split('\n').filter((p) => p !== '')) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await tryCommand(['ip', 'netns', 'del', name]);
  await rm(`/etc/netns/${name}`, { recursive: true, force: true });
}

/** Removes every namespace, veth and address of cluster index n, and its bridge. */
async function removeCluster(index: number): Promise<void> {
  for (const ns of await namespacesOf(index)) await removeNetns(ns);
  // A veth whose namespace is gone is gone too; one left by a half-made pod is not.
  const links = JSON.parse((await runCommand(['ip', '-j', 'link', 'show'])) || '[]') as LinkInfo[];
  for (const l of links) if (l.ifname.startsWith(`${VETH_PREFIX}${index}p`)) await tryCommand(['ip', 'link', 'del', l.ifname]);
  await tryCommand(['ip', 'link', 'del', `${BRIDGE_PREFIX}${index}`]);
}

/** Removes the leftovers of runners whose process is gone (a crashed earlier run). Returns the indexes cleaned. */
export async function removeLeftovers(): Promise<number[]> {
  const cleaned: number[] = [];
  for (const b of await bridges()) {
    const index = Number(b.ifname.slice(BRIDGE_PREFIX.length));
    const owner = /^pid:(\d+)$/.exec(b.ifalias ?? '');
    if (!Number.isInteger(index) || (owner !== null && alive(Number(owner[1])))) continue;
    await removeCluster(index);
    cleaned.push(index);
  }
  // Namespaces whose bridge is already gone.
  for (const name of (await runCommand(['ip', 'netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!)) {
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-`).exec(name);
    if (m === null) continue;
    const bridgeUp = (await bridges()).some((b) => b.ifname === `${BRIDGE_PREFIX}${m[1]}`);
    if (!bridgeUp) await removeNetns(name);
  }
  const etc = await readdir('/etc/netns').catch(() => [] as string[]);
  const live = new Set((await runCommand(['ip', 'netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!));
  for (const name of etc) if (name.startsWith(NETNS_PREFIX) && !live.has(name)) await rm(`/etc/netns/${name}`, { recursive: true, force: true });
  return cleaned;
}

function octets(base: number, i: number): string {
  return `10.${base}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export class ClusterNetwork {
  private podSeq = 0;
  private lbSeq = 0;
  private readonly addresses = new Set<string>();

  private constructor(readonly index: number) {}

  get bridge(): string {
    return `${BRIDGE_PREFIX}${this.index}`;
  }
  /** The node's address: the bridge, the pods' gateway, where NodePorts and the API server listen. */
  get nodeIp(): string {
    return `10.${100 + this.index}.0.1`;
  }
  get podCidr(): string {
    return `10.${100 + this.index}.0.0/16`;
  }
  get serviceCidr(): string {
    return `10.${150 + this.index}.0.0/16`;
  }
  /** The `kubernetes` Service's ClusterIP: the first of the service range, as the API server allocates it. */
  get kubernetesServiceIp(): string {
    return `10.${150 + this.index}.0.1`;
  }

  /**
   * Claims the lowest free cluster index (after removing crashed runs'
   * leftovers), creates its bridge and turns on IPv4 forwarding, so that pods
   * of one cluster reach other clusters' pods and load balancers through the host.
   * @throws Error when all MAX_CLUSTERS indexes are taken.
   */
  static async create(): Promise<ClusterNetwork> {
    await removeLeftovers();
    await runCommand(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    for (let index = 1; index <= MAX_CLUSTERS; index++) {
      const net = new ClusterNetwork(index);
      // A fixed MAC: a bridge without one takes the lowest MAC of its ports and
      // changes it when that port (a pod's veth) goes, leaving every other
      // pod's ARP entry for its gateway stale for seconds.
      const mac = `02:6b:73:6b:00:${index.toString(16).padStart(2, '0')}`;
      const batch = `link add ${net.bridge} address ${mac} type bridge\nlink set ${net.bridge} alias pid:${process.pid} up\naddr add ${net.nodeIp}/16 dev ${net.bridge}\n`;
      try {
        await runCommand(['ip', '-batch', '-'], batch);
      } catch (err) {
        if (/File exists/.test((err as Error).message)) continue;
        await tryCommand(['ip', 'link', 'del', net.bridge]);
        throw err;
      }
      return net;
    }
    throw new Error(`pod runner: all ${MAX_CLUSTERS} cluster indexes are in use (bridges ${BRIDGE_PREFIX}1..${MAX_CLUSTERS}); stop other runners or remove stale bridges`);
  }

  /** A namespace with its own IP in the pod range, a veth to the bridge, and a default route through the node. */
  async addPod(): Promise<PodNetwork> {
    const seq = ++this.podSeq;
    const net: PodNetwork = { netns: `${NETNS_PREFIX}${this.index}-${seq}`, ip: octets(100 + this.index, 9 + seq), hostVeth: `${VETH_PREFIX}${this.index}p${seq}` };
    try {
      await runCommand(['ip', '-batch', '-'], `netns add ${net.netns}\nlink add ${net.hostVeth} type veth peer name eth0 netns ${net.netns}\nlink set ${net.hostVeth} master ${this.bridge} up\n`);
      await runCommand(['ip', '-n', net.netns, '-batch', '-'], `link set lo up\naddr add ${net.ip}/16 dev eth0\nlink set eth0 up\nroute add default via ${this.nodeIp}\n`);
    } catch (err) {
      await this.removePod(net);
      throw err;
    }
    return net;
  }

  async removePod(net: PodNetwork): Promise<void> {
    await removeNetns(net.netns);
    await tryCommand(['ip', 'link', 'del', net.hostVeth]);
  }

  /** Adds a /32 to the bridge, so that the host (the proxy) can listen on it and pods route to it. */
  async addAddress(ip: string): Promise<void> {
    if (this.addresses.has(ip)) return;
    await runCommand(['ip', 'addr', 'add', `${ip}/32`, 'dev', this.bridge]);
    this.addresses.add(ip);
  }

  async removeAddress(ip: string): Promise<void> {
    if (!this.addresses.delete(ip)) return;
    await tryCommand(['ip', 'addr', 'del', `${ip}/32`, 'dev', this.bridge]);
  }

  /** The next load-balancer address of this cluster's range. */
  allocateLoadBalancerIp(): string {
    const seq = this.lbSeq++;
    if (seq >= 250) throw new Error(`pod runner: cluster ${this.index} has no load-balancer addresses left (10.${200 + this.index}.0.0/24)`);
    return `10.${200 + this.index}.0.${seq + 1}`;
  }

  /** Removes every namespace, veth and address of this cluster and its bridge (kills what still runs in the namespaces). */
  async remove(): Promise<void> {
    await removeCluster(this.index);
    this.addresses.clear();
  }
}
