// Which TCP ports a process listens on, as the kernel sees it (Linux procfs):
// an account of who holds a port that does not depend on what the process says
// about itself. /proc/net/tcp{,6} map each listening socket's inode to its
// local port; /proc/PID/fd links name the socket inodes the process holds.
import { readdir, readFile, readlink } from 'node:fs/promises';

/** TCP state 0x0A is LISTEN (include/net/tcp_states.h). */
const TCP_LISTEN = '0A';

/** Ports of all listening TCP sockets (IPv4 and IPv6) held by `pid`. */
export async function portsListenedBy(pid: number): Promise<Set<number>> {
  const portByInode = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      if (state !== TCP_LISTEN || !local || !inode) continue;
      portByInode.set(inode, parseInt(local.split(':').pop() ?? '', 16));
    }
  }
  const ports = new Set<number>();
  const fds = await readdir(`/proc/${pid}/fd`);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const port = inode === undefined ? undefined : portByInode.get(inode);
    if (port !== undefined) ports.add(port);
  }
  return ports;
}
