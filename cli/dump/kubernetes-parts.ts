// The parts of a dump only a cluster site has, all through the Kubernetes
// API (what `kubectl` would need: get on configmaps, pods, pods/log,
// statefulsets and deployments, and for management get on secrets and
// create on pods/portforward, as `kskup router stat` uses): the router
// config ConfigMap, the site's pods and the logs of their containers, the
// server's version, and a router's management answers through port-forward.
import { AppsV1Api, CoreV1Api, VersionApi, type V1Pod } from '@kubernetes/client-node';
import { describeApiError } from '../../site-controller/kubernetes/kube-errors.js';
import { NAMES, PART_OF_LABEL } from '../../site-controller/kubernetes/manifests.js';
import { SITE_CONFIG_KEY } from '../../site-controller/kubernetes/router-replicas.js';
import { openRouterAccess } from '../../site-controller/kubernetes/router-access.js';
import type { KubernetesTarget } from '../site/site-options.js';
import type { DumpContents } from './dump-contents.js';
import type { LogLimits } from './local-parts.js';
import { redactLogLines, redactSecretFields } from './redact.js';
import { addManagement, baseVersions } from './site-parts.js';

/** An API failure as `cannot read ConfigMap kskup-router: 403 Forbidden: ...`. */
function apiProblem(what: string, error: unknown): Error {
  return new Error(`cannot ${what}: ${describeApiError(error)}`, { cause: error });
}

export async function addKubernetesParts(dump: DumpContents, target: KubernetesTarget, limits: LogLimits, timeoutMs: number): Promise<Record<string, unknown>> {
  const { access } = target.site;
  const { namespace } = access;
  const core = access.kubeConfig.makeApiClient(CoreV1Api);
  const apps = access.kubeConfig.makeApiClient(AppsV1Api);
  const versions: Record<string, unknown> = { ...baseVersions(), platform: 'kubernetes' };

  await dump.part('kubernetes server version', async () => {
    const info = await access.kubeConfig.makeApiClient(VersionApi).getCode().catch((error: unknown) => Promise.reject(apiProblem('read the server version (/version)', error)));
    versions.kubernetes = { server: access.server, gitVersion: info.gitVersion, platform: info.platform };
  });

  await dump.part('router config', async () => {
    const map = await core.readNamespacedConfigMap({ name: NAMES.routerConfig, namespace }).catch((error: unknown) => Promise.reject(apiProblem(`read ConfigMap ${NAMES.routerConfig}`, error)));
    const data = map.data ?? {};
    // Every key: the site's config (skrouterd.json) and each replica's, which differ by their links to each other and rate limits divided among them.
    for (const [key, text] of Object.entries(data)) {
      let config: unknown;
      try {
        config = JSON.parse(text);
      } catch {
        dump.problem('router config', `ConfigMap ${NAMES.routerConfig} key ${key} is not JSON`);
        continue;
      }
      const redacted: string[] = [];
      const file = key === SITE_CONFIG_KEY ? 'router-config.json' : `router-config-${key.replace(/\.json$/, '')}.json`;
      dump.addJson(file, redactSecretFields(config, redacted), `the router config in ConfigMap ${NAMES.routerConfig}, key ${key}; file names are those mounted in the router pods`);
      if (redacted.length > 0) dump.redactions.push(`${file}: values of ${redacted.join(', ')}`);
    }
    if (!(SITE_CONFIG_KEY in data)) throw new Error(`ConfigMap ${NAMES.routerConfig} has no ${SITE_CONFIG_KEY} (the controller writes it once the site is made)`);
  });

  let pods: V1Pod[] = [];
  await dump.part('pods', async () => {
    pods = (await core.listNamespacedPod({ namespace, labelSelector: `${PART_OF_LABEL}=kskup` }).catch((error: unknown) => Promise.reject(apiProblem('list the pods', error)))).items;
    const [routers, controller] = await Promise.all([
      apps.readNamespacedStatefulSet({ name: NAMES.router, namespace }).catch(() => undefined),
      apps.readNamespacedDeployment({ name: NAMES.controller, namespace }).catch(() => undefined),
    ]);
    const images = new Set(pods.flatMap((pod) => (pod.spec?.containers ?? []).map((container) => container.image ?? '')));
    versions.images = [...images].filter((image) => image !== '').sort();
    const [reports, links, problem] = await Promise.all([target.site.readRouterReports().catch(() => undefined), target.site.readLinkStates().catch(() => undefined), target.site.routerProblem().catch((error: unknown) => describeApiError(error))]);
    dump.addJson(
      'pods.json',
      {
        namespace,
        server: access.server,
        context: access.context,
        ...(problem !== undefined && { problem }),
        routers: routers && { replicas: routers.spec?.replicas, ready: routers.status?.readyReplicas ?? 0 },
        controller: controller && { replicas: controller.spec?.replicas, ready: controller.status?.readyReplicas ?? 0 },
        pods: pods.map((pod) => ({
          name: pod.metadata?.name,
          phase: pod.status?.phase,
          ready: pod.status?.conditions?.find((condition) => condition.type === 'Ready')?.status === 'True',
          startedAt: pod.status?.startTime,
          containers: (pod.status?.containerStatuses ?? []).map((status) => ({ name: status.name, image: status.image, ready: status.ready, restarts: status.restartCount, state: status.state, lastState: status.lastState })),
        })),
        // What the controller last recorded (ConfigMap kskup-network, keys routers.json and links.json).
        replicas: reports,
        links,
      },
      "what runs the site: StatefulSet kskup-router, Deployment kskup-controller and their pods; each replica and link as the controller last saw them",
    );
    if (problem !== undefined) dump.problem('site pods', problem);
  });

  await dump.part('logs', async () => {
    if (pods.length === 0) throw new Error(`no pods labelled ${PART_OF_LABEL}=kskup in namespace "${namespace}"`);
    let redacted = 0;
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      for (const container of pod.spec?.containers ?? []) {
        try {
          const text = await core.readNamespacedPodLog({ name, namespace, container: container.name, tailLines: limits.lines, limitBytes: limits.bytes });
          const clean = redactLogLines(String(text));
          redacted += clean.redacted;
          dump.addText(`logs/${name}.${container.name}.log`, clean.text, `the last ${limits.lines} lines (at most ${limits.bytes} bytes) of container ${container.name} of pod ${name}`);
        } catch (error) {
          dump.problem(`logs of pod ${name} container ${container.name}`, apiProblem('read the log', error));
        }
      }
    }
    if (redacted > 0) dump.redactions.push(`logs/*.log: ${redacted} value(s) of fields named like secrets in JSON log lines`);
  });

  // One router: the first ready replica (the one `kskup router stat` asks); each replica's links are in pods.json.
  try {
    const reach = await openRouterAccess(access);
    try {
      const version = await addManagement(dump, { target: reach.target, where: `router pod ${reach.pod} in namespace "${namespace}" (through port-forward)` }, timeoutMs);
      versions.router = version ?? 'unknown (the router did not answer)';
    } finally {
      await reach.forward.close().catch(() => undefined);
    }
  } catch (error) {
    dump.addText('management/ERROR.txt', `No router pod could be asked: ${error instanceof Error ? error.message : String(error)}\n`, 'why there are no management answers');
    dump.problem('router management', error);
    versions.router = 'unknown (no router pod answered)';
  }
  return versions;
}

/** settings.json: the settings ConfigMap (what init or the Helm chart asked for), less values of fields named like secrets. */
export async function addSettings(dump: DumpContents, target: KubernetesTarget): Promise<boolean> {
  return dump.part('settings', async () => {
    const settings = await target.site.readSettings();
    if (!settings) throw new Error(`no ConfigMap ${NAMES.site} in namespace "${target.namespace}"`);
    dump.addJson('settings.json', redactSecretFields({ labels: settings.metadata?.labels, annotations: settings.metadata?.annotations, data: settings.data }), `the site's settings (ConfigMap ${NAMES.site}: what kskup init or the Helm chart asked for)`);
  });
}
