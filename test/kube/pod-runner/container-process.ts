// One container of a pod as a local process, started in the pod's network
// namespace and in a mount namespace of its own where the pod's volumes are
// bind-mounted at their mountPaths:
//
//   unshare --mount --propagation private -- sh -c MOUNTS_THEN_EXEC ...
//     └ exec ip netns exec <pod netns> <argv>   (also binds /etc/netns/<netns>/hosts)
//
// unshare, sh and ip each exec the next, so the pid we hold is the
// container's own and signals reach it directly. stdout and stderr go to the
// container's log file (appended across restarts).

import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';

export interface Mount {
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface ContainerLaunch {
  readonly netns: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
  readonly mounts: readonly Mount[];
  readonly logFile: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

// $1 = number of mounts, then (source, target, ro|rw) per mount, then the
// working dir, then the netns and argv. A missing mount point is created on
// the host's file system (see README: it is left there).
const SCRIPT = `set -e
n=$1; shift
while [ "$n" -gt 0 ]; do
  mkdir -p "$2"
  mount --bind "$1" "$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi
  shift 3; n=$((n-1))
done
mkdir -p "$1"; cd "$1"; shift
exec ip netns exec "$@"`;

/** Starts the process; resolves once it is spawned (or rejects when it could not be). */
export async function launchContainer(launch: ContainerLaunch): Promise<{ child: ChildProcess; exited: Promise<Exit> }> {
  const log = await open(launch.logFile, 'a');
  try {
    const args = [String(launch.mounts.length), ...launch.mounts.flatMap((m) => [m.source, m.target, m.readOnly ? 'ro' : 'rw']), launch.workingDir, launch.netns, ...launch.argv];
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', SCRIPT, 'sh', ...args], {
      env: { ...launch.env },
      stdio: ['ignore', log.fd, log.fd],
    });
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    return { child, exited };
  } finally {
    await log.close();
  }
}
