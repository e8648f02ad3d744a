// Which cluster and namespace a command or the controller works on, by
// kubectl's rules: --kubeconfig, else $KUBECONFIG (the first file of the list
// that exists), else ~/.kube/config, else the in-cluster service account
// (KUBERNETES_SERVICE_HOST); --context, else the file's current context;
// -n, else the context's namespace, else "default".
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { SiteError } from '../site/errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface KubernetesAccess {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The context's name, or "in-cluster". */
  readonly context: string;
  /** The API server's URL, for messages. */
  readonly server: string;
}

export interface AccessOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Undefined: the context's namespace, else "default". */
  readonly namespace?: string;
}

/** The kubeconfig file kubectl would read, or undefined (then in-cluster, if in a pod). */
export function findKubeconfig(kubeconfig: string | undefined, env: Env): string | undefined {
  const candidates = kubeconfig !== undefined ? [kubeconfig] : env.KUBECONFIG ? env.KUBECONFIG.split(delimiter) : [join(env.HOME ?? homedir(), '.kube', 'config')];
  return candidates.find((file) => file !== '' && existsSync(file));
}

export function isInCluster(env: Env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST);
}

export function kubernetesAccess(options: AccessOptions, env: Env): KubernetesAccess {
  const kubeConfig = new KubeConfig();
  const file = findKubeconfig(options.kubeconfig, env);
  if (options.kubeconfig !== undefined && file === undefined) throw new SiteError(`kubeconfig ${options.kubeconfig} does not exist`);
  if (file !== undefined) {
    try {
      kubeConfig.loadFromFile(file);
    } catch (error) {
      throw new SiteError(`kubeconfig ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (options.context !== undefined) {
      if (!kubeConfig.getContextObject(options.context)) {
        const known = kubeConfig.getContexts().map((context) => context.name);
        throw new SiteError(`kubeconfig ${file} has no context "${options.context}" (it has: ${known.join(', ') || 'none'})`);
      }
      kubeConfig.setCurrentContext(options.context);
    }
  } else if (isInCluster(env)) {
    if (options.context !== undefined) throw new SiteError('--context needs a kubeconfig; in a pod there is only the in-cluster one');
    kubeConfig.loadFromCluster();
  } else {
    throw new SiteError('no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a pod');
  }
  const contextName = kubeConfig.getCurrentContext();
  const context = contextName ? kubeConfig.getContextObject(contextName) : null;
  if (file !== undefined && !context) {
    const known = kubeConfig.getContexts().map((candidate) => candidate.name);
    throw new SiteError(`kubeconfig ${file} has no current context${known.length > 0 ? `; give --context (it has: ${known.join(', ')})` : ' and no contexts at all'}`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new SiteError(`kubeconfig context "${contextName}" names no cluster`);
  const namespace = options.namespace ?? context?.namespace ?? (isInCluster(env) && file === undefined ? inClusterNamespace(env) : undefined) ?? 'default';
  return { kubeConfig, namespace, context: file === undefined ? 'in-cluster' : contextName, server: cluster.server };
}

/** A pod's own namespace: KSKUP_NAMESPACE (the downward API, as the manifests set it). */
function inClusterNamespace(env: Env): string | undefined {
  return env.KSKUP_NAMESPACE || undefined;
}
