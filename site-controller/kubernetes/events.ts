// Kubernetes Events the controller records (core/v1 Event, as
// `kubectl describe` shows them): one per occurrence, with count 1. Failing to
// record one is never an error of the work it reports on.
import type { CoreV1Api, V1ObjectReference } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from './kube-errors.js';

/** What an Event is about: its `involvedObject` (apiVersion, kind, name, uid; the namespace is the controller's). */
export type EventSubject = Required<Pick<V1ObjectReference, 'apiVersion' | 'kind' | 'name'>> & Pick<V1ObjectReference, 'uid'>;

/**
 * Records a `Normal` or `Warning` Event about `subject` in `namespace`;
 * `message` is cut to 1024 characters (kube-apiserver refuses longer ones).
 * A failure is logged at debug and swallowed.
 */
export async function recordEvent(
  core: CoreV1Api,
  namespace: string,
  log: Logger,
  subject: EventSubject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const time = new Date();
  try {
    await core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${subject.name}.`, namespace },
        involvedObject: { ...subject, namespace },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: 'kskup-controller' },
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    });
  } catch (error) {
    log.debug({ reason: describeApiError(error) }, 'cannot record an Event');
  }
}
