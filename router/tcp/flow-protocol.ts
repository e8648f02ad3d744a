// How a TCP connection is carried over AMQP between kskup routers.
//
// A flow is a pair of links on the inter-router connection, both attached by the
// router that accepted the TCP client (the listener side):
//   - `<flowId>:fwd`, a sender there, target = the service address: client -> backend bytes;
//   - `<flowId>:rev`, a receiver there, source = the service address: backend -> client bytes.
// The router that owns a tcpConnector for the address (the connector side) sees the
// pair arrive, opens the TCP connection to the backend and pumps bytes both ways.
//
// The bytes read from a socket travel as pre-settled messages whose body is a
// single AMQP data section (standard message format 0, so any AMQP tool can read a
// captured link), each at most one transfer frame's worth (messageChunkBytes), so
// that no message needs putting together at the far side. The end of one direction (a TCP FIN) is a message with no data
// and the application property `kskup-end-of-stream`; it is ordered behind the
// data on the same link, so the far side shuts its socket's write side only after
// writing every byte. Both directions ended = flow done, links detached without
// error. A reset, a failed connect or a lost connection detaches with an error,
// and the far side resets its socket.
//
// A link pair that carried a flow to its clean end may carry the next one
// (REUSE_PROPERTY): attaching and detaching two links on each side was most of
// what a short connection cost both routers. Both ends agree in their attach
// properties; the next flow then starts with a flow-start message on the
// forward link, with the client's bytes right behind it, and the connector side
// answers with a connected message on the reverse link once its backend is up
// (until then the listener side keeps what it sent, for another target). See
// docs/decisions/tcp-over-amqp.md.
//
// Flow control is AMQP link credit, one credit per message, a window of about
// FLOW_WINDOW_BYTES (flowCreditWindow):
//   - a sender never queues a message without credit, so one flow that has run
//     out of credit cannot hold up the others that share the session (rhea sends
//     queued deliveries in order across all links of a session);
//   - the receiving side returns credit only while its socket accepts writes, so a
//     slow reader stops the far side from reading its socket: TCP backpressure.
import rhea from 'rhea';
import type { Message } from 'rhea';
import { DATA_SECTION_HEADER_LENGTH } from '../amqp/data-section.js';

/**
 * Bytes a flow may have in flight per direction, whatever the message size:
 * 2 MiB covers loopback and LAN bandwidth-delay products for one stream, and
 * bounds what a stalled reader can make a router hold per flow. An idle flow
 * holds none of it.
 */
export const FLOW_WINDOW_BYTES = 2 * 1024 * 1024;

/** The fewest messages a flow's credit window holds, however large its messages. */
const MIN_CREDIT_WINDOW = 32;

/**
 * rhea 3.0.5 (session.js, Outgoing.compute_max_payload) cuts a message into
 * frames of max-frame-size less 50 bytes and the delivery tag, its allowance for
 * the transfer performative.
 */
const TRANSFER_ALLOWANCE = 50 + 1; // + the 1-byte PRESETTLED_TAG

/** Below this, one frame's worth is too little for a message of its own: the message goes in several frames. */
const MIN_MESSAGE_CHUNK = 8 * 1024;

/** A socket read's worth (Node reads sockets 64 KiB at a time). */
const MAX_MESSAGE_CHUNK = 64 * 1024;

/**
 * Bytes of a flow's stream one message carries on a connection whose receiver
 * takes frames of up to `maxFrameSize` bytes (its open's max-frame-size;
 * undefined or 0: no limit). One frame's worth when that is at least 8 KiB: a
 * message in one frame is never cut up by the sender nor put together again by
 * the receiver (a copy of every byte). With smaller frames, a socket read's worth
 * in several frames.
 */
export function messageChunkBytes(maxFrameSize: number | undefined): number {
  if (!maxFrameSize) return MAX_MESSAGE_CHUNK;
  const oneFrame = maxFrameSize - TRANSFER_ALLOWANCE - DATA_SECTION_HEADER_LENGTH;
  return oneFrame >= MIN_MESSAGE_CHUNK ? Math.min(oneFrame, MAX_MESSAGE_CHUNK) : MAX_MESSAGE_CHUNK;
}

/** Link credit (messages) a flow's receiver grants: FLOW_WINDOW_BYTES of the messages its sender will send, at least MIN_CREDIT_WINDOW. */
export function flowCreditWindow(maxFrameSize: number | undefined): number {
  return Math.max(MIN_CREDIT_WINDOW, Math.ceil(FLOW_WINDOW_BYTES / messageChunkBytes(maxFrameSize)));
}

/** Credit is handed back in batches of an eighth of the window, to save a flow frame per message; the sender never runs dry while the reader keeps up. */
export function flowCreditBatch(window: number): number {
  return Math.max(1, Math.floor(window / 8));
}

/**
 * When the inter-router socket has this much waiting to be written, flows stop
 * reading their TCP sockets until it drains. Per-flow credit bounds each flow;
 * this bounds their sum on one connection.
 */
export const CONNECTION_WRITE_HIGH_WATER = 8 * 1024 * 1024;

/**
 * Link property naming the router where a flow ends (the one whose tcpConnector
 * serves it), chosen by the router that accepted the client. Routers in between
 * pass the link pair on towards it; see docs/routing-protocol.md.
 */
export const DESTINATION_PROPERTY = 'kskup-destination';

export const FORWARD_SUFFIX = ':fwd';
export const REVERSE_SUFFIX = ':rev';

/**
 * Link property (attach `properties`, both links of a pair): `true` from the
 * listener side offers to keep the pair attached after a clean end; `true` in
 * the connector side's answering attaches accepts. Set only between the two
 * routers that are the flow's ends (never through a relay or an edge router's
 * uplink choice); a router that does not know it answers without it, and the
 * pair is detached after one flow, as before.
 */
export const REUSE_PROPERTY = 'kskup-reuse';

const END_OF_STREAM_PROPERTY = 'kskup-end-of-stream';
/** Application property of a flow-start message: the new flow's id (string). */
const FLOW_START_PROPERTY = 'kskup-flow-start';
/** Application property of the connected message: the backend is up, send. */
const FLOW_CONNECTED_PROPERTY = 'kskup-flow-connected';

/** A pre-encoded end-of-stream message: the same bytes for every flow. */
export const END_OF_STREAM_MESSAGE: Buffer = rhea.message.encode({
  application_properties: { [END_OF_STREAM_PROPERTY]: true },
}) as Buffer;

/** Delivery tags of pre-settled messages need not be unique; one shared tag saves an allocation per message. */
export const PRESETTLED_TAG = Buffer.from([0]);

/**
 * The first message of a flow on a reused link pair (forward link, listener
 * side to connector side): no body, application property
 * `kskup-flow-start` = the flow's id.
 */
export function flowStartMessage(flowId: string): Buffer {
  return rhea.message.encode({ application_properties: { [FLOW_START_PROPERTY]: flowId } }) as Buffer;
}

/** The connector side's answer to a flow-start, once its backend is up (reverse link): the same bytes for every flow. */
export const FLOW_CONNECTED_MESSAGE: Buffer = rhea.message.encode({
  application_properties: { [FLOW_CONNECTED_PROPERTY]: true },
}) as Buffer;

export type FlowMessage =
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'end' }
  | { kind: 'start'; flowId: string }
  | { kind: 'connected' }
  | { kind: 'invalid'; reason: string };

export function classifyFlowMessage(message: Message): FlowMessage {
  const body = message.body as { typecode?: unknown; content?: unknown } | null | undefined;
  if (body && body.typecode === 0x75 && Buffer.isBuffer(body.content)) return { kind: 'data', bytes: body.content };
  const properties = message.application_properties;
  if (properties?.[END_OF_STREAM_PROPERTY] === true) return { kind: 'end' };
  const start = properties?.[FLOW_START_PROPERTY];
  if (typeof start === 'string' && start.length > 0) return { kind: 'start', flowId: start };
  if (properties?.[FLOW_CONNECTED_PROPERTY] === true) return { kind: 'connected' };
  return { kind: 'invalid', reason: 'flow message is neither a data section, end-of-stream, flow-start nor connected' };
}
