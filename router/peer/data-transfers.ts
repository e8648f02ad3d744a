// Incoming transfers that carry a TCP flow's bytes, taken without rhea's
// delivery and message decoding.
//
// For every transfer rhea 3.0.5 (session.js, Incoming.on_transfer) builds a
// delivery with five closures, decodes the whole message into section objects,
// makes two context objects and dispatches a 'message' event, and the flow then
// settles the delivery so that the session's buffer lets go of it. A flow's
// data message is one AMQP data section, sent pre-settled, in one frame: all of
// that work yields one view of the frame's bytes. In a sampling heap profile of
// 64-byte round trips, on_transfer alone was 12% of what each router allocated,
// and the message decoding and dispatch more: so many of its young-generation
// GCs, whose pauses are the round trip's p99.
//
// A receiver given a data handler (setDataHandler) gets such transfers as the
// chunk's bytes. The transfer is counted as rhea counts it (session transfer
// id, delivery id, link credit and delivery count), so the flow and session
// frames rhea writes later are the same. Anything else (a message with other
// sections, a transfer in several frames, one not pre-settled, a receiver
// without a handler) goes to rhea as before, in arrival order.
import type { Receiver } from 'rhea';

/** Called with the bytes of a data section's binary: a view of the frame, valid until the handler returns unless kept. */
export type DataHandler = (bytes: Buffer) => void;

const handlers = new WeakMap<object, DataHandler>();

/**
 * Sends this receiver's single-frame, pre-settled, data-section-only messages
 * to `handler` instead of its 'message' event; undefined goes back to the
 * event. The receiver's credit is then the caller's to return: rhea's
 * credit_window and autoaccept, which listen to that event, do not see these
 * messages (a TCP flow's receivers have neither).
 */
export function setDataHandler(receiver: Receiver, handler: DataHandler | undefined): void {
  if (handler) handlers.set(receiver, handler);
  else handlers.delete(receiver);
}

/** The parts of rhea's Incoming (session.js) a transfer moves on. */
export interface IncomingCounters {
  next_transfer_id: number;
  next_delivery_id: number | undefined;
}

interface TransferFrame {
  performative: { delivery_id?: number; settled?: boolean; more?: boolean; message_format?: number };
  payload?: Buffer;
}

interface ReceivingLink {
  credit: number;
  delivery_count: number;
  _incomplete?: unknown;
  connection: { _register(): void };
}

/**
 * AMQP 1.0 part 3.2.6 data section: descriptor 0x00 0x53 0x75 (smallulong
 * 0x75), then a binary, vbin8 (0xa0, 1-byte length) or vbin32 (0xb0, 4-byte
 * big-endian length). Returns the offset of the binary's bytes when the
 * payload is exactly one such section, else -1.
 */
export function dataSectionOffset(payload: Buffer): number {
  if (payload.length < 5 || payload[0] !== 0x00 || payload[1] !== 0x53 || payload[2] !== 0x75) return -1;
  if (payload[3] === 0xb0) return payload.length >= 8 && payload.readUInt32BE(4) === payload.length - 8 ? 8 : -1;
  if (payload[3] === 0xa0) return payload[4] === payload.length - 5 ? 5 : -1;
  return -1;
}

/**
 * Takes `frame` for `link` when the link has a data handler and the transfer
 * is a whole pre-settled data-section message with the delivery id rhea
 * expects next; returns false, having changed nothing, otherwise.
 */
export function takeDataTransfer(incoming: IncomingCounters, frame: TransferFrame, link: ReceivingLink): boolean {
  const handler = handlers.get(link);
  if (!handler) return false;
  const { performative, payload } = frame;
  if (performative.settled !== true || performative.more === true || link._incomplete !== undefined || !payload) return false;
  if (performative.message_format !== undefined && performative.message_format !== 0) return false;
  const id = performative.delivery_id;
  if (typeof id !== 'number' || (incoming.next_delivery_id !== undefined && id !== incoming.next_delivery_id)) return false;
  const offset = dataSectionOffset(payload);
  if (offset < 0) return false;
  incoming.next_transfer_id++;
  incoming.next_delivery_id = id + 1;
  if (link.credit > 0) link.credit--;
  link.delivery_count++;
  // rhea's settle of the delivery registers the connection for processing, which
  // is when the session window is topped up: keep that.
  link.connection._register();
  handler(payload.subarray(offset));
  return true;
}
