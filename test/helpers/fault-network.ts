// Sites on their own addresses, with links between them that a test can cut
// or degrade: a network namespace per site, all joined by an access bridge to
// the host (where the test's clients and backends run), and a point-to-point
// link per pair of linked sites: a veth pair (cut with `ip link set down`) or a
// user-space wire of TUN devices with delay and loss (tun_wire.py; the kernel
// has no netem, see there).
//
// Addresses for fault network n (n = 1..MAX_NETWORKS, claimed atomically by
// creating the bridge kskf<n>, the way the pod runner claims its clusters;
// 10.61-10.90 stays clear of the pod runner's 10.101+ ranges):
//
//   access bridge   10.(60+n).0.0/24: the host at .1, site i at .(10+i)
//   link k          10.(60+n).k.0/24: its first site at .1, its second at .2
//
// A site has no default route: traffic between sites goes over their own links
// or not at all (a cut link does not leak through the host). Needs root.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { runCommand, tryCommand } from '../kube/pod-runner/run-command.js';

const BRIDGE_PREFIX = 'kskf';
const MAX_NETWORKS = 30;
const TUN_WIRE = resolve(import.meta.dirname, 'tun_wire.py');

export interface Site {
  readonly name: string;
  /** `ip netns` name. */
  readonly netns: string;
  /** Its address on the access bridge (clients, backends, metrics). */
  readonly accessIp: string;
}

export interface Link {
  readonly index: number;
  readonly from: Site;
  readonly to: Site;
  /** `from`'s and `to`'s addresses on this link. */
  readonly fromIp: string;
  readonly toIp: string;
  /** The interface name at both ends (each in its own namespace). */
  readonly device: string;
}

export interface WireOptions {
  /** One-way delay, each way, ms. */
  readonly delayMs: number;
  /** Share of packets dropped, each way, 0..1. */
  readonly loss: number;
  /** Seed of the drop choices; printed with the counters. */
  readonly seed: number;
}

/** Packets carried and dropped by a wire, each way, as tun_wire.py counts them. */
export interface WireCounts {
  readonly a_to_b: [number, number];
  readonly b_to_a: [number, number];
}

export interface Wire extends Link {
  readonly options: WireOptions;
  counts(): WireCounts | undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the namespaces and bridge of fault network `index`, killing what still runs in them. */
async function removeNetwork(index: number): Promise<void> {
  const list = await runCommand(['ip', 'netns', 'list']);
  for (const ns of list.split('\n').map((line) => line.split(' ')[0]!)) {
    if (!ns.startsWith(`${BRIDGE_PREFIX}${index}-`)) continue;
    const pids = await runCommand(['ip', 'netns', 'pids', ns]).catch(() => '');
    for (const pid of pids.split('\n').filter((p) => p !== '')) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await tryCommand(['ip', 'netns', 'del', ns]);
  }
  const links = JSON.parse((await runCommand(['ip', '-j', 'link', 'show'])) || '[]') as { ifname: string }[];
  for (const l of links) if (l.ifname.startsWith(`${BRIDGE_PREFIX}${index}a`)) await tryCommand(['ip', 'link', 'del', l.ifname]);
  await tryCommand(['ip', 'link', 'del', `${BRIDGE_PREFIX}${index}`]);
}

/** Removes fault networks whose owning process is gone (a crashed run). */
async function removeLeftovers(): Promise<void> {
  const out = await runCommand(['ip', '-j', '-d', 'link', 'show', 'type', 'bridge']);
  for (const bridge of JSON.parse(out || '[]') as { ifname: string; ifalias?: string }[]) {
    const index = Number(bridge.ifname.slice(BRIDGE_PREFIX.length));
    if (!bridge.ifname.startsWith(BRIDGE_PREFIX) || !Number.isInteger(index)) continue;
    const owner = /^pid:(\d+)$/.exec(bridge.ifalias ?? '');
    if (owner !== null && alive(Number(owner[1]))) continue;
    await removeNetwork(index);
  }
}

export class FaultNetwork {
  private readonly sites: Site[] = [];
  private linkCount = 0;
  private readonly wires = new Set<ChildProcess>();

  private constructor(readonly index: number) {}

  private get prefix(): string {
    return `10.${60 + this.index}`;
  }
  get bridge(): string {
    return `${BRIDGE_PREFIX}${this.index}`;
  }
  /** The host's address on the access bridge: backends listen here. */
  get hostIp(): string {
    return `${this.prefix}.0.1`;
  }

  /** Claims the lowest free index (after removing crashed runs' leftovers) and makes its access bridge. */
  static async create(): Promise<FaultNetwork> {
    await removeLeftovers();
    for (let index = 1; index <= MAX_NETWORKS; index++) {
      const network = new FaultNetwork(index);
      // A fixed MAC, so that the bridge's does not change as sites come and go.
      const mac = `02:6b:73:66:00:${index.toString(16).padStart(2, '0')}`;
      const batch = `link add ${network.bridge} address ${mac} type bridge\nlink set ${network.bridge} alias pid:${process.pid} up\naddr add ${network.hostIp}/24 dev ${network.bridge}\n`;
      try {
        await runCommand(['ip', '-batch', '-'], batch);
      } catch (error) {
        if (/File exists/.test((error as Error).message)) continue;
        await tryCommand(['ip', 'link', 'del', network.bridge]);
        throw error;
      }
      return network;
    }
    throw new Error(`fault network: all ${MAX_NETWORKS} indexes are in use (bridges ${BRIDGE_PREFIX}1..${MAX_NETWORKS})`);
  }

  /** A namespace on the access bridge, with its own address. */
  async addSite(name: string): Promise<Site> {
    const i = this.sites.length + 1;
    const site: Site = { name, netns: `${this.bridge}-${name.toLowerCase()}`, accessIp: `${this.prefix}.0.${10 + i}` };
    const hostVeth = `${this.bridge}a${i}`;
    await runCommand(['ip', '-batch', '-'], `netns add ${site.netns}\nlink add ${hostVeth} type veth peer name access netns ${site.netns}\nlink set ${hostVeth} master ${this.bridge} up\n`);
    await runCommand(['ip', '-n', site.netns, '-batch', '-'], `link set lo up\naddr add ${site.accessIp}/24 dev access\nlink set access up\n`);
    this.sites.push(site);
    return site;
  }

  /** A veth pair between two sites, named link<k> at both ends. */
  async link(from: Site, to: Site): Promise<Link> {
    const link = this.nextLink(from, to, 'link');
    await runCommand(['ip', 'link', 'add', link.device, 'netns', from.netns, 'type', 'veth', 'peer', 'name', link.device, 'netns', to.netns]);
    await this.address(link);
    return link;
  }

  /**
   * A wire of TUN devices between two sites, named wire<k> at both ends, with
   * delay and loss each way (see tun_wire.py for why not netem). It lives as
   * long as its relay process, which ends with this network.
   */
  async wire(from: Site, to: Site, options: WireOptions): Promise<Wire> {
    const link = this.nextLink(from, to, 'wire');
    const relay = spawn('/usr/bin/python3', [TUN_WIRE, from.netns, link.device, to.netns, link.device, String(options.delayMs), String(options.loss), String(options.seed)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.wires.add(relay);
    relay.once('exit', () => this.wires.delete(relay));
    const stderr: string[] = [];
    relay.stderr!.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
    let counts: WireCounts | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      relay.once('exit', (code) => reject(new Error(`tun_wire.py ${from.netns}/${link.device} <-> ${to.netns}/${link.device} exited (${String(code)}): ${stderr.join('').trim()}`)));
      createInterface({ input: relay.stdout! }).on('line', (line) => {
        const parsed = JSON.parse(line) as { ready?: boolean } & WireCounts;
        if (parsed.ready) resolve();
        else counts = parsed;
      });
    });
    await ready;
    await this.address(link);
    return { ...link, options, counts: () => counts };
  }

  /** Brings one end of a link down (`ip link set down` in `at`'s namespace) or up again. */
  async setLink(link: Link, at: Site, up: boolean): Promise<void> {
    await runCommand(['ip', '-n', at.netns, 'link', 'set', link.device, up ? 'up' : 'down']);
  }

  /** `ip netns exec NETNS`: the prefix of a command that runs in the site's namespace (exec'd: the pid is the command's). */
  static exec(site: Site): string[] {
    return ['ip', 'netns', 'exec', site.netns];
  }

  /** Stops the wires' relays, then removes every namespace (killing what runs there) and the bridge. */
  async remove(): Promise<void> {
    for (const relay of this.wires) relay.kill('SIGTERM');
    await removeNetwork(this.index);
  }

  private nextLink(from: Site, to: Site, kind: 'link' | 'wire'): Link {
    const k = ++this.linkCount;
    return { index: k, from, to, fromIp: `${this.prefix}.${k}.1`, toIp: `${this.prefix}.${k}.2`, device: `${kind}${k}` };
  }

  private async address(link: Link): Promise<void> {
    await runCommand(['ip', '-n', link.from.netns, '-batch', '-'], `addr add ${link.fromIp}/24 dev ${link.device}\nlink set ${link.device} up\n`);
    await runCommand(['ip', '-n', link.to.netns, '-batch', '-'], `addr add ${link.toIp}/24 dev ${link.device}\nlink set ${link.device} up\n`);
  }
}
