// How a flow's end, as one end of it saw it, becomes a FlowResult. Pure: the
// TCP adaptor hands over what the flow knows (its side, whether our socket or
// the far side failed, the detach condition the far side sent, the reason).
import type { FlowResult, FlowRole } from './flow-records.js';
import { POLICY_DENIED } from '../policy/flow-policy.js';
import { RATE_LIMITED } from '../tcp/flow-limiter.js';

export interface FlowEnd {
  readonly role: FlowRole;
  /** undefined: both directions ended cleanly. */
  readonly reason: string | undefined;
  /** 'local': our socket failed (or was refused); 'network': the far side or the connection did. */
  readonly origin?: 'local' | 'network';
  /** The AMQP condition of the far side's detach, when it sent one. */
  readonly remoteCondition?: string;
  /** True when our backend socket never connected (connector side). */
  readonly neverConnected?: boolean;
}

/** A socket error or an early close at the far end, as the far end words it (tcp-flow.ts). */
const FAR_SOCKET_FAILURE = /^socket (error|closed)/;

export function flowResult(end: FlowEnd): Exclude<FlowResult, 'open'> {
  const { role, reason, origin, remoteCondition } = end;
  if (reason === undefined) return 'closed';
  if (role === 'listener-side') {
    if (origin === 'local') return 'reset-by-client';
    if (remoteCondition === 'amqp:not-found') return 'no-route';
    // A rate limit's refusal is the target's rule too (the reason says which): 'denied' keeps the results older routers know.
    if (remoteCondition === POLICY_DENIED || remoteCondition === RATE_LIMITED) return 'denied';
    if (remoteCondition === 'kskup:backend-unreachable') return connectFailure(reason);
    if (remoteCondition === 'kskup:backend-reset' || FAR_SOCKET_FAILURE.test(reason)) return 'reset-by-server';
    return 'unreachable';
  }
  if (origin === 'local') return end.neverConnected ? connectFailure(reason) : 'reset-by-server';
  return FAR_SOCKET_FAILURE.test(reason) ? 'reset-by-client' : 'unreachable';
}

/** A backend that refused (RST to the SYN) versus one that could not be reached (timeout, no route to host, TLS failure). */
function connectFailure(reason: string): 'refused' | 'unreachable' {
  return reason.includes('ECONNREFUSED') ? 'refused' : 'unreachable';
}
