// A router's side of the flow query (flow-query.ts): it consumes its own
// `_kskup/flows/<router id>` address and answers each query with its records
// and totals, sent towards the asker's router by name. An interior router
// also passes each query down to the edge routers attached to it (they take
// no part in link state, so the asker cannot know them) and names them in its
// reply; each edge router answers the asker itself.
import type { Message } from 'rhea';
import type { Logger } from '../log/logger.js';
import { VERSION } from '../version.js';
import type { FlowRecorder } from './flow-records.js';
import { answerFlowQuery, FLOW_QUERY_SUBJECT, FLOW_REPLY_SUBJECT, flowsAddress, parseFlowQuery, REPLY_ROUTER_PROPERTY } from './flow-query.js';

export interface FlowQueryAgentDeps {
  readonly selfId: string;
  readonly siteName?: string;
  readonly recorder: FlowRecorder;
  /** The site of a router id, from link state. */
  readonly siteOf: (routerId: string) => string | undefined;
  /** Bytes over each link, per peer router (LinkOctets). */
  readonly linkOctets?: () => readonly { readonly peerRouter: string; readonly octetsOut: number; readonly octetsIn: number }[];
  /** Interior router: the ids of the edge routers attached here (none at an edge router). */
  readonly edgeRouters?: () => readonly string[];
  readonly messaging: {
    addInternalConsumer(address: string, handler: (message: Message) => void): void;
    sendToRouter(address: string, router: string, message: Message): void;
  };
  readonly log: Logger;
}

export class FlowQueryAgent {
  constructor(private readonly deps: FlowQueryAgentDeps) {}

  start(): void {
    this.deps.messaging.addInternalConsumer(flowsAddress(this.deps.selfId), (message) => this.onQuery(message));
  }

  private onQuery(message: Message): void {
    const replyTo = typeof message.reply_to === 'string' ? message.reply_to : undefined;
    const replyRouter = (message.application_properties as Record<string, unknown> | undefined)?.[REPLY_ROUTER_PROPERTY];
    const query = message.subject === FLOW_QUERY_SUBJECT ? parseFlowQuery(message.body) : `subject is not ${FLOW_QUERY_SUBJECT}`;
    if (replyTo === undefined || typeof replyRouter !== 'string' || typeof query === 'string') {
      // Per message, so debug: a bad query costs the asker its answer, nothing else.
      this.deps.log.debug({ replyTo, replyRouter, reason: typeof query === 'string' ? query : 'no reply_to or reply router' }, 'flow query dropped');
      return;
    }
    const { recorder } = this.deps;
    const edges = this.deps.edgeRouters?.() ?? [];
    for (const edge of edges) {
      // Forwarded as it came (reply_to, reply router, correlation): the edge router's reply goes straight to the asker.
      this.deps.messaging.sendToRouter(flowsAddress(edge), edge, {
        subject: message.subject,
        reply_to: replyTo,
        correlation_id: message.correlation_id ?? message.message_id,
        content_type: 'application/json',
        application_properties: { [REPLY_ROUTER_PROPERTY]: replyRouter },
        body: message.body,
      });
    }
    const answer = answerFlowQuery(
      query,
      { router: this.deps.selfId, ...(this.deps.siteName !== undefined && { site: this.deps.siteName }), version: VERSION, capacity: recorder.capacity },
      recorder.records(),
      recorder.allTotals(),
      this.deps.siteOf,
      this.deps.linkOctets?.() ?? [],
    );
    const reply = edges.length > 0 ? { ...answer, edges } : answer;
    this.deps.messaging.sendToRouter(replyTo, replyRouter, {
      subject: FLOW_REPLY_SUBJECT,
      correlation_id: message.correlation_id ?? message.message_id,
      content_type: 'application/json',
      body: JSON.stringify(reply),
    });
  }
}
