// Messages routers exchange on the control link of each inter-router connection
// (see docs/routing-protocol.md). Bodies are AMQP maps; everything received is
// checked here before it is used, and anything else is dropped.
import { isLinkStateAd, type LinkStateAd, type LinkStateSummary } from '../routing/index.js';

export type ControlMessage =
  /** Every helloInterval: "I am here". `cost` is the dialling side's connector cost, 0 from the listening side. */
  | {
      readonly type: 'hello';
      readonly id: string;
      readonly mode: 'interior' | 'edge';
      readonly epoch: number;
      readonly cost: number;
      /** The sender's site name (its router metadata), if it has one. */
      readonly site?: string;
      /** The sender's clock (ms) when it sent this hello. */
      readonly time?: number;
      /** The `time` of the last hello the sender heard from us, and how long (ms) it held it: our round-trip time is now - echo - held. */
      readonly echo?: number;
      readonly held?: number;
    }
  /** A link-state advertisement, the router's own or flooded on behalf of another. */
  | { readonly type: 'lsa'; readonly ad: LinkStateAd }
  /** Sent once a neighbour is up: the versions of every ad held, so that the neighbour sends what is missing or newer. */
  | { readonly type: 'summary'; readonly summary: LinkStateSummary }
  /**
   * From an edge router to its active uplink: the addresses it serves, which the interior router advertises as its
   * own and per edge (LinkStateAd.edges), with the weights of those whose tcpConnectors carry one (absent from older routers).
   */
  | { readonly type: 'edge-state'; readonly addresses: readonly string[]; readonly weights?: Readonly<Record<string, number>> };

export function parseControlMessage(body: unknown): ControlMessage | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const message = body as Record<string, unknown>;
  switch (message.type) {
    case 'hello': {
      const { id, mode, epoch, cost } = message;
      if (typeof id !== 'string' || (mode !== 'interior' && mode !== 'edge')) return undefined;
      if (typeof epoch !== 'number' || typeof cost !== 'number') return undefined;
      const { site, time, echo, held } = message;
      const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
      return {
        type: 'hello',
        id,
        mode,
        epoch,
        cost,
        ...(typeof site === 'string' && { site }),
        ...(finite(time) && { time }),
        ...(finite(echo) && finite(held) && held >= 0 && { echo, held }),
      };
    }
    case 'lsa':
      return isLinkStateAd(message.ad) ? { type: 'lsa', ad: message.ad } : undefined;
    case 'summary':
      return isSummary(message.summary) ? { type: 'summary', summary: message.summary } : undefined;
    case 'edge-state': {
      const { addresses, weights } = message;
      if (!Array.isArray(addresses) || !addresses.every((a): a is string => typeof a === 'string')) return undefined;
      if (weights === undefined) return { type: 'edge-state', addresses };
      if (!weights || typeof weights !== 'object' || Array.isArray(weights)) return undefined;
      if (!Object.values(weights).every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0)) return undefined;
      return { type: 'edge-state', addresses, weights: weights as Record<string, number> };
    }
    default:
      return undefined;
  }
}

function isSummary(value: unknown): value is LinkStateSummary {
  if (!value || typeof value !== 'object') return false;
  return Object.values(value).every(
    (version) => !!version && typeof version === 'object' && typeof (version as { epoch?: unknown }).epoch === 'number' && typeof (version as { seq?: unknown }).seq === 'number',
  );
}
