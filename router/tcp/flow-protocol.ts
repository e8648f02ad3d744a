// How a TCP connection is carried over AMQP between kskup routers.
//
// A flow is a pair of links on the inter-router connection, both attached by the
// router that accepted the TCP client (the listener side):
//   - `<flowId>:fwd`, a sender there, target = the service address: client -> backend bytes;
//   - `<flowId>:rev`, a receiver there, source = the service address: backend -> client bytes.
// The router that owns a tcpConnector for the address (the connector side) sees the
// pair arrive, opens the TCP connection to the backend and pumps bytes both ways.
//
// Each chunk read from a socket travels as one pre-settled message whose body is a
// single AMQP data section (standard message format 0, so any AMQP tool can read a
// captured link). The end of one direction (a TCP FIN) is a message with no data
// and the application property `kskup-end-of-stream`; it is ordered behind the
// data on the same link, so the far side shuts its socket's write side only after
// writing every byte. Both directions ended = flow done, links detached without
// error. A reset, a failed connect or a lost connection detaches with an error,
// and the far side resets its socket.
//
// Flow control is AMQP link credit, one credit per message:
//   - a sender never queues a message without credit, so one flow that has run
//     out of credit cannot hold up the others that share the session (rhea sends
//     queued deliveries in order across all links of a session);
//   - the receiving side returns credit only while its socket accepts writes, so a
//     slow reader stops the far side from reading its socket: TCP backpressure.
import rhea from 'rhea';
import type { Message } from 'rhea';

/**
 * Messages (socket reads of up to 64 KiB) a flow may have in flight per direction.
 * 32 x 64 KiB = 2 MiB covers loopback and LAN bandwidth-delay products for one
 * stream, and bounds what a stalled reader can make a router hold per flow.
 * An idle flow holds none of it.
 */
export const FLOW_CREDIT_WINDOW = 32;

/** Credit is handed back in batches to save a flow frame per message; below a quarter of the window, so the sender never runs dry while the reader keeps up. */
export const FLOW_CREDIT_BATCH = 4;

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

const END_OF_STREAM_PROPERTY = 'kskup-end-of-stream';

/** A pre-encoded end-of-stream message: the same bytes for every flow. */
export const END_OF_STREAM_MESSAGE: Buffer = rhea.message.encode({
  application_properties: { [END_OF_STREAM_PROPERTY]: true },
}) as Buffer;

/** Delivery tags of pre-settled messages need not be unique; one shared tag saves an allocation per message. */
export const PRESETTLED_TAG = Buffer.from([0]);

/** AMQP data section: descriptor 0x75 (small ulong), then vbin32 with a 4-byte length. */
const DATA_SECTION_HEADER_LENGTH = 8;

export function encodeDataMessage(chunk: Buffer): Buffer {
  const encoded = Buffer.allocUnsafe(DATA_SECTION_HEADER_LENGTH + chunk.length);
  encoded[0] = 0x00;
  encoded[1] = 0x53;
  encoded[2] = 0x75;
  encoded[3] = 0xb0;
  encoded.writeUInt32BE(chunk.length, 4);
  chunk.copy(encoded, DATA_SECTION_HEADER_LENGTH);
  return encoded;
}

export type FlowMessage = { kind: 'data'; bytes: Buffer } | { kind: 'end' } | { kind: 'invalid'; reason: string };

export function classifyFlowMessage(message: Message): FlowMessage {
  const body = message.body as { typecode?: unknown; content?: unknown } | null | undefined;
  if (body && body.typecode === 0x75 && Buffer.isBuffer(body.content)) return { kind: 'data', bytes: body.content };
  if (message.application_properties?.[END_OF_STREAM_PROPERTY] === true) return { kind: 'end' };
  return { kind: 'invalid', reason: 'flow message is neither a data section nor end-of-stream' };
}
