// The "registry" of the pod runner: an image reference names a local program
// instead of layers to pull. An image says what its command names run (its
// binaries on PATH), its ENTRYPOINT and CMD, and its environment; a container
// then runs as a container runtime would run it (command overrides ENTRYPOINT,
// args override CMD; Kubernetes "Define a command and arguments for a container").

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUTER_NODE_FLAGS } from '../../../router/node-flags.js';

export interface LocalImage {
  /** Program names → the argv that runs them here, e.g. { 'kskup-router': ['node', '/repo/dist/router/main.js'] }. "node" is this Node.js. */
  readonly binaries?: Readonly<Record<string, readonly string[]>>;
  /** The image's ENTRYPOINT, used when the container has no `command`. */
  readonly entrypoint?: readonly string[];
  /** The image's CMD, used when the container has neither `command` nor `args`. */
  readonly cmd?: readonly string[];
  /** The image's ENV, under the container's own env. */
  readonly env?: Readonly<Record<string, string>>;
  /** The image's WORKDIR (default /), used when the container has no workingDir. */
  readonly workingDir?: string;
}

/** Image references → images. A key ending in ":*" matches every tag of that repository ("kskup:*"). */
export type ImageRegistry = Readonly<Record<string, LocalImage>>;

export class ImageError extends Error {
  constructor(
    /** The kubelet's waiting reason: ErrImagePull (unknown image) or RunContainerError (nothing to run). */
    readonly reason: 'ErrImagePull' | 'RunContainerError',
    message: string,
  ) {
    super(message);
  }
}

const IMAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'images');

/**
 * The kskup image: its two programs are package.json's `bin` entries, run from a
 * built checkout (`npm run build`). kskup-router gets the node flags its
 * shebang gives it in the image (router/node-flags.ts).
 */
export function kskupImage(repo: string): LocalImage {
  return {
    binaries: {
      'kskup-router': ['node', ...ROUTER_NODE_FLAGS, join(repo, 'dist', 'router', 'main.js')],
      kskup: ['node', join(repo, 'dist', 'cli', 'main.js')],
    },
    entrypoint: ['kskup-router'],
  };
}

/**
 * The test images under test/kube/images/:
 * - kskup-test/echo:1 — echo.mjs: TCP echo on --port (8080), HTTP on --http-port (8081)
 *   with /name (the pod's name), /healthz and /ready (200), /not-ready (503);
 * - kskup-test/client:1 — client.mjs: `sleep` by default; the test runs its
 *   other modes in the pod with PodRunner.execInPod;
 * - kskup-test/exit:1 — exit.mjs: exits with EXIT_CODE (default 1) after EXIT_AFTER_MS (default 200).
 */
export function testImages(): ImageRegistry {
  const script = (name: string): LocalImage => ({ binaries: { [name]: ['node', join(IMAGES_DIR, `${name}.mjs`)] }, entrypoint: [name] });
  return {
    'kskup-test/echo:1': script('echo'),
    'kskup-test/client:1': { ...script('client'), cmd: ['sleep'] },
    'kskup-test/exit:1': script('exit'),
  };
}

export function findImage(images: ImageRegistry, ref: string): LocalImage | undefined {
  const exact = images[ref];
  if (exact !== undefined) return exact;
  const repo = ref.includes(':') ? ref.slice(0, ref.lastIndexOf(':')) : ref;
  return images[`${repo}:*`];
}

export interface ContainerSpecPart {
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
}

/**
 * The argv a container runs: command (else ENTRYPOINT) plus args (else CMD,
 * unless command is set), with the first word looked up in the image's binaries.
 * @throws ImageError when the image is not in the registry or has nothing to run.
 */
export function containerArgv(images: ImageRegistry, c: ContainerSpecPart): string[] {
  const ref = c.image ?? '';
  const image = findImage(images, ref);
  if (image === undefined) throw new ImageError('ErrImagePull', `image "${ref}" is not in the pod runner's image registry (known: ${Object.keys(images).join(', ')})`);
  const head = c.command ?? image.entrypoint ?? [];
  const tail = c.args ?? (c.command === undefined ? (image.cmd ?? []) : []);
  const argv = [...head, ...tail];
  if (argv.length === 0) throw new ImageError('RunContainerError', `image "${ref}": no command specified`);
  const bin = image.binaries?.[argv[0]!];
  const resolved = bin === undefined ? argv : [...bin, ...argv.slice(1)];
  if (resolved[0] === 'node') resolved[0] = process.execPath;
  if (!resolved[0]!.startsWith('/')) throw new ImageError('RunContainerError', `image "${ref}": executable "${argv[0]}" not found in the image (binaries: ${Object.keys(image.binaries ?? {}).join(', ') || 'none'})`);
  return resolved;
}
