// What `kskup expose` asks the cluster before it changes the site: whether the
// target exists and can be one, whether the address's Service name is free,
// and a Service target's ports. Reads with the user's own credentials (the CLI).
import type { AppsV1Api, CoreV1Api, V1Pod, V1Service } from '@kubernetes/client-node';
import { SiteError } from '../site/errors.js';
import type { TargetType } from '../site/model.js';
import { addressServiceName, foreignServiceProblem, isAddressService } from './address-services.js';
import { describeApiError, isNotFound } from './kube-errors.js';
import { serviceTargetPorts, type PortPairs } from './service-target-ports.js';
import { serviceSelectorProblem } from './workload-targets.js';

export class ExposeChecks {
  constructor(
    private readonly core: CoreV1Api,
    private readonly apps: AppsV1Api,
    private readonly namespace: string,
    /** `namespace "west"`: where, in messages. */
    private readonly where: string,
  ) {}

  /**
   * Why `type/name` cannot be exposed as `address` here: no such Deployment,
   * StatefulSet or Service, a Service that selects no pods (no selector,
   * ExternalName), or a Service named after the address that kskup did not
   * create (never overwritten, so pods here could not use the name). A
   * service/NAME exposed as NAME is exempt: that Service is the target's own.
   */
  async problem(type: TargetType, name: string, address: string): Promise<string | undefined> {
    if (type === 'deployment' && !(await this.read('Deployment', name, () => this.apps.readNamespacedDeployment({ name, namespace: this.namespace })))) {
      return `Deployment ${name} not found in ${this.where}`;
    }
    if (type === 'statefulset' && !(await this.read('StatefulSet', name, () => this.apps.readNamespacedStatefulSet({ name, namespace: this.namespace })))) {
      return `StatefulSet ${name} not found in ${this.where}`;
    }
    if (type === 'service') {
      const problem = serviceSelectorProblem(name, await this.readService(name));
      if (problem) return `${problem} (in ${this.where})`;
      if (name === address) return undefined;
    }
    const serviceName = addressServiceName(address);
    const service = await this.readService(serviceName);
    return !service || isAddressService(service, serviceName) ? undefined : foreignServiceProblem(address);
  }

  /** The ports of service/NAME (see serviceTargetPorts); a SiteError says why there are none. */
  async servicePorts(name: string, requested?: { readonly ports: readonly number[]; readonly targetPorts?: readonly number[] }): Promise<PortPairs> {
    const service = await this.readService(name);
    const problem = serviceSelectorProblem(name, service);
    if (problem || !service) throw new SiteError(`${problem} (in ${this.where})`);
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace }).then(
      (list) => list.items as V1Pod[],
      (error: unknown) => {
        throw new SiteError(`cannot list the Pods in ${this.where}: ${describeApiError(error)}`, { cause: error });
      },
    );
    const pairs = serviceTargetPorts(service, pods, requested);
    if (typeof pairs === 'string') throw new SiteError(pairs);
    return pairs;
  }

  private readService(name: string): Promise<V1Service | undefined> {
    return this.read('Service', name, () => this.core.readNamespacedService({ name, namespace: this.namespace }));
  }

  private async read<T>(kind: string, name: string, get: () => Promise<T>): Promise<T | undefined> {
    try {
      return await get();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new SiteError(`cannot read ${kind} ${name} in ${this.where}: ${describeApiError(error)}`, { cause: error });
    }
  }
}
