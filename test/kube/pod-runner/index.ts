// The pod runner (tests only): makes objects in the Kubernetes API server
// double come alive as local processes in per-pod network namespaces, with
// the controllers, proxy, DNS and load balancer a cluster would add. Owns
// everything under this folder; imports only the double (../) and Node.
// Must not be imported by product code. See ../README.md.

export { PodRunner, type PodRunnerOptions, type ExecResult } from './pod-runner.js';
export { kskupImage, testImages, type ImageRegistry, type LocalImage } from './images.js';
export { removeLeftovers, BRIDGE_PREFIX, NETNS_PREFIX, VETH_PREFIX } from './cluster-network.js';
export { SERVICE_NAME_LABEL } from './endpoint-slice-controller.js';
