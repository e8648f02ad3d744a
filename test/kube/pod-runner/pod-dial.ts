// What a kubelet does for a port-forward: dial localhost:PORT inside the
// pod's network namespace, so that a process listening on the pod's loopback
// only is reached (as the console of the chart is). Node cannot enter a
// network namespace itself, so each connection is a small relay process run
// with `ip netns exec` (as dockershim's port-forward ran socat under nsenter):
// it connects to 127.0.0.1:PORT there and copies its stdin and stdout to and
// from the connection. A refused dial is its exit status 1 with the error
// code (ECONNREFUSED) on stderr.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';

/** Runs in the pod's network namespace, with the port as its one argument (`node -e RELAY PORT`). */
const RELAY = `
const socket = require('node:net').connect({ host: '127.0.0.1', port: Number(process.argv[1]) });
socket.on('connect', () => { process.stdin.pipe(socket); socket.pipe(process.stdout); });
socket.on('error', (error) => { process.stderr.write(String(error.code || error.message)); process.exit(1); });
socket.on('close', () => process.stdout.end(() => process.exit(0)));
process.stdout.on('error', () => process.exit(0));
`;

/**
 * A connection to 127.0.0.1:`port` in network namespace `netns`. It ends
 * when the relay exits 0, and is destroyed with an error whose `code` is the
 * dial's (ECONNREFUSED) when it exits otherwise; destroying it kills the relay.
 */
export function dialInNetns(netns: string, port: number): Duplex {
  return new RelayedConnection(spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', RELAY, String(port)], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

class RelayedConnection extends Duplex {
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stdin.on('error', () => undefined); // the relay exited: its status says why
    child.on('error', (error) => this.destroy(error));
    // 'close': the exit status and all of stdout are in, so the end never overtakes data.
    child.on('close', (code) => {
      if (code === 0) this.push(null);
      else this.destroy(Object.assign(new Error(stderr.trim() || `relay exited with status ${String(code)}`), { code: /^E[A-Z]+$/.test(stderr.trim()) ? stderr.trim() : undefined }));
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.child.stdin.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill();
    callback(error);
  }
}
