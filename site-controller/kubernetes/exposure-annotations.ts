// The kskup.io/* annotations that expose a Deployment, StatefulSet, DaemonSet
// or Service with no CLI (as Skupper's skupper.io/proxy, skupper.io/address
// and skupper.io/port do). Parsing only: from one object's metadata and spec
// to what it asks to expose, or why it cannot be exposed. Pure, so each rule
// is tested on its own (test/exposure-annotations.test.ts).
import type { V1PodTemplateSpec, V1Service } from '@kubernetes/client-node';
import { nameProblem, type HealthCheck } from '../site/model.js';
import { DEFAULT_HEALTH_CHECK, parseHealthValue, parseWeightValue } from '../site/traffic-values.js';

export const EXPOSURE_ANNOTATIONS = {
  /** The switch: `tcp` exposes the object; absent leaves it alone; anything else is a problem. */
  proxy: 'kskup.io/proxy',
  /** The service address (default: the object's name). */
  address: 'kskup.io/address',
  /** `8080`, or `80:8080,443:8443` (port:targetPort); default from the object (see annotatedPorts). */
  port: 'kskup.io/port',
  /** The target's share of new flows, as `kskup expose --weight`: 0 (drain) to 1000000; absent: not weighted. */
  weight: 'kskup.io/weight',
  /** The service's health check, as `kskup expose --health`: `tcp` or `http:/PATH`, with --health's default timing; absent: none from this object. */
  health: 'kskup.io/health',
} as const;

/** The kinds whose annotations expose, with the target type each becomes. */
export const ANNOTATED_KINDS = { Deployment: 'deployment', StatefulSet: 'statefulset', DaemonSet: 'daemonset', Service: 'service' } as const;
export type AnnotatedKind = keyof typeof ANNOTATED_KINDS;

/** A service port and the port the target listens on for it. */
export interface PortPair {
  readonly port: number;
  readonly targetPort: number;
}

/** What an annotated object asks for: `address` on `ports` (sorted by port), served by the object. */
export interface AnnotatedExposure {
  readonly kind: AnnotatedKind;
  readonly name: string;
  readonly address: string;
  readonly ports: readonly PortPair[];
  /** kskup.io/weight: the target's weight (ServiceTarget.weight); absent: not weighted. */
  readonly weight?: number;
  /** kskup.io/health: the service's health check (ServiceRecord.health), timed as --health's defaults; absent: this object asks for none. */
  readonly health?: HealthCheck;
}

/** Not exposed, and why (names the annotation and the value). */
export interface AnnotationProblem {
  readonly kind: AnnotatedKind;
  readonly name: string;
  readonly problem: string;
}

/** The part of an annotated object the annotations are read with. */
export interface AnnotatedObject {
  readonly metadata?: { readonly name?: string; readonly annotations?: Readonly<Record<string, string>> };
  /** Workloads: the pod template (its container ports are the default ports). */
  readonly template?: V1PodTemplateSpec;
  /** Services: the spec (its ports and targetPorts are the default ports). */
  readonly serviceSpec?: V1Service['spec'];
}

/**
 * `kskup.io/port`: a comma-separated list of `PORT` or `PORT:TARGETPORT`
 * (decimal, 1-65535; spaces around items allowed), sorted by port. Several
 * service ports may share one target port (as in a Kubernetes Service); a
 * service port given twice is refused. Returns the pairs or the problem.
 */
export function parsePortAnnotation(value: string): PortPair[] | string {
  const where = `${EXPOSURE_ANNOTATIONS.port} "${value}"`;
  if (value.trim() === '') return `${where}: is empty; give PORT or PORT:TARGETPORT[,…], e.g. 80:8080,443:8443`;
  const pairs: PortPair[] = [];
  for (const item of value.split(',').map((part) => part.trim())) {
    if (item === '') return `${where}: has an empty item; separate PORT or PORT:TARGETPORT items with single commas`;
    const parts = item.split(':');
    if (parts.length > 2) return `${where}: "${item}" has more than one ":"; use PORT or PORT:TARGETPORT`;
    const port = portNumber(parts[0] ?? '');
    const targetPort = parts.length === 2 ? portNumber(parts[1] ?? '') : port;
    if (typeof port === 'string') return `${where}: "${parts[0]}" in "${item}" is not a port number (1-65535)`;
    if (typeof targetPort === 'string') return `${where}: target port "${parts[1]}" in "${item}" is not a port number (1-65535)`;
    if (pairs.some((pair) => pair.port === port)) return `${where}: port ${port} is given twice`;
    pairs.push({ port, targetPort });
  }
  return pairs.sort((a, b) => a.port - b.port);
}

/**
 * What `object` of `kind` asks to expose by its annotations: undefined when it
 * has no kskup.io/proxy (not annotated), else the exposure or the problem.
 */
export function readExposureAnnotations(kind: AnnotatedKind, object: AnnotatedObject): AnnotatedExposure | AnnotationProblem | undefined {
  const name = object.metadata?.name ?? '';
  const annotations = object.metadata?.annotations ?? {};
  const proxy = annotations[EXPOSURE_ANNOTATIONS.proxy];
  if (proxy === undefined) return undefined;
  const problem = (text: string): AnnotationProblem => ({ kind, name, problem: text });
  if (proxy !== 'tcp') return problem(`${EXPOSURE_ANNOTATIONS.proxy} "${proxy}" is not a protocol kskup carries: use "tcp" (or remove the annotation)`);
  const address = annotations[EXPOSURE_ANNOTATIONS.address] ?? name;
  const addressProblem = nameProblem(address);
  if (addressProblem) {
    return problem(
      annotations[EXPOSURE_ANNOTATIONS.address] === undefined
        ? `the address defaults to the name "${name}", which cannot be a service address: set ${EXPOSURE_ANNOTATIONS.address}`
        : `${EXPOSURE_ANNOTATIONS.address}: ${addressProblem}`,
    );
  }
  if (kind === 'Service' && Object.keys(object.serviceSpec?.selector ?? {}).length === 0) {
    return problem('the Service has no spec.selector: kskup finds a Service\'s pods by its selector (expose a Service without one as host/NAME)');
  }
  const given = annotations[EXPOSURE_ANNOTATIONS.port];
  const ports = given === undefined ? defaultPorts(kind, object) : parsePortAnnotation(given);
  if (typeof ports === 'string') return problem(ports);
  const givenWeight = annotations[EXPOSURE_ANNOTATIONS.weight];
  const weight = givenWeight === undefined ? undefined : parseWeightValue(givenWeight);
  if (typeof weight === 'string') return problem(`${EXPOSURE_ANNOTATIONS.weight} "${givenWeight}": ${weight}`);
  const givenHealth = annotations[EXPOSURE_ANNOTATIONS.health];
  const check = givenHealth === undefined ? undefined : parseHealthValue(givenHealth);
  if (typeof check === 'string') return problem(`${EXPOSURE_ANNOTATIONS.health} "${givenHealth}": ${check}`);
  const health: HealthCheck | undefined = check && { ...check, ...DEFAULT_HEALTH_CHECK };
  return { kind, name, address, ports, ...(weight !== undefined && { weight }), ...(health && { health }) };
}

/** A health check as kskup.io/health and --health write it: `tcp` or `http:/PATH`. */
export function healthAnnotationValue(health: HealthCheck): string {
  return health.type === 'http' ? `http:${health.path ?? '/'}` : 'tcp';
}

/**
 * The ports when kskup.io/port is not given. A Service: its TCP ports and
 * their targetPorts (a named targetPort cannot be: its number is per pod).
 * A workload: each TCP containerPort of its pod template, on the same port.
 */
function defaultPorts(kind: AnnotatedKind, object: AnnotatedObject): PortPair[] | string {
  const missing = `set ${EXPOSURE_ANNOTATIONS.port} (PORT or PORT:TARGETPORT[,…])`;
  if (kind === 'Service') {
    const pairs: PortPair[] = [];
    for (const port of object.serviceSpec?.ports ?? []) {
      if ((port.protocol ?? 'TCP') !== 'TCP') continue;
      const target = port.targetPort ?? port.port;
      const targetPort = typeof target === 'number' ? target : /^\d+$/.test(target) ? Number(target) : undefined;
      if (targetPort === undefined) return `port ${port.port} of the Service has the named targetPort "${String(target)}", whose number kskup cannot know: ${missing}`;
      pairs.push({ port: port.port, targetPort });
    }
    if (pairs.length === 0) return `the Service has no TCP ports: ${missing}`;
    return pairs.sort((a, b) => a.port - b.port);
  }
  const ports = new Set<number>();
  for (const container of object.template?.spec?.containers ?? []) {
    for (const port of container.ports ?? []) if ((port.protocol ?? 'TCP') === 'TCP') ports.add(port.containerPort);
  }
  if (ports.size === 0) return `the pod template declares no TCP containerPort: ${missing}`;
  return [...ports].sort((a, b) => a - b).map((port) => ({ port, targetPort: port }));
}

function portNumber(text: string): number | string {
  if (!/^\d{1,5}$/.test(text)) return text;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : text;
}

export function isProblem(value: AnnotatedExposure | AnnotationProblem): value is AnnotationProblem {
  return 'problem' in value;
}
