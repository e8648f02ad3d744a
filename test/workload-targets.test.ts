// Which pods serve a deployment/NAME target (site-controller/kubernetes/workload-targets.ts).
import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { deploymentPods, selectorMatcher } from '../site-controller/kubernetes/workload-targets.js';

function pod(name: string, ip: string | undefined, labels: Record<string, string>, ready: boolean, terminating = false): V1Pod {
  return {
    metadata: { name, labels, ...(terminating && { deletionTimestamp: new Date() }) },
    status: { ...(ip && { podIP: ip }), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

const deployment: V1Deployment = { metadata: { name: 'backend' }, spec: { selector: { matchLabels: { app: 'backend' } }, template: {} } };

describe('workload targets', () => {
  it('are the ready, running, not terminating pods the selector selects, sorted by IP', () => {
    const pods = [
      pod('b', '10.1.0.9', { app: 'backend' }, true),
      pod('a', '10.1.0.10', { app: 'backend', extra: 'x' }, true),
      pod('unready', '10.1.0.11', { app: 'backend' }, false),
      pod('leaving', '10.1.0.12', { app: 'backend' }, true, true),
      pod('no-ip', undefined, { app: 'backend' }, true),
      pod('other', '10.1.0.13', { app: 'frontend' }, true),
    ];
    expect(deploymentPods('backend', deployment, pods)).toEqual({ ips: ['10.1.0.10', '10.1.0.9'] });
  });

  it('say why there are none when the Deployment is missing or selects everything', () => {
    expect(deploymentPods('gone', undefined, [])).toEqual({ ips: [], problem: 'Deployment gone not found' });
    const empty: V1Deployment = { metadata: { name: 'all' }, spec: { selector: {}, template: {} } };
    expect(deploymentPods('all', empty, [pod('p', '10.1.0.1', { app: 'x' }, true)])).toEqual({ ips: [], problem: 'Deployment all: spec.selector is empty: it would select every pod' });
  });

  it('match expressions as Kubernetes does', () => {
    const match = selectorMatcher({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }, { key: 'canary', operator: 'DoesNotExist' }] });
    if (typeof match === 'string') throw new Error(match);
    expect(match({ tier: 'web' })).toBe(true);
    expect(match({ tier: 'db' })).toBe(false);
    expect(match({ tier: 'api', canary: 'yes' })).toBe(false);
    expect(selectorMatcher({ matchExpressions: [{ key: 'a', operator: 'Gt' }] })).toBe('has an unknown operator "Gt"');
  });
});
