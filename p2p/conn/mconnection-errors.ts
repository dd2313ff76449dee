/**
 * Typed reasons an MConnection stops, one class per condition. Errors caused by the peer carry
 * the offending value and the limit it broke, so the Switch can log and score the peer; errors
 * caused by the local user (bad descriptors or options) name the key and the accepted form.
 */
import { SwitchyardError } from '../errors.js';

/** A bad constructor argument from the local user: `key` is the option, `expected` its form. */
export class ErrMConnectionConfig extends SwitchyardError {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly value: unknown,
  ) {
    super(`MConnection option ${key}: expected ${expected}, got ${JSON.stringify(value)}`);
  }
}

/** The peer sent a PacketMsg for a channel id we did not register (or outside 0..255). */
export class ErrUnknownChannel extends SwitchyardError {
  constructor(readonly channelId: number) {
    super(`peer sent a packet on unknown channel ${channelId}`);
  }
}

/**
 * The peer announced a Packet longer than the read limit (the size of a fully loaded PacketMsg,
 * 1034 bytes at the default payload size). Raised from the length prefix, before any body is read.
 */
export class ErrPacketTooLarge extends SwitchyardError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`peer packet of ${size} bytes exceeds the ${limit}-byte limit`);
  }
}

/** The bytes are not a valid protobuf Packet (truncated field, bad varint, wrong wire type...). */
export class ErrMalformedPacket extends SwitchyardError {
  constructor(readonly reason: string) {
    super(`malformed packet from peer: ${reason}`);
  }
}

/** A well-formed protobuf with none of ping, pong, msg set (an empty or foreign message). */
export class ErrUnknownPacketType extends SwitchyardError {
  constructor() {
    super('peer packet has no known type (ping, pong or msg)');
  }
}

/** A reassembled message would exceed the channel's recvMessageCapacity. */
export class ErrRecvMessageTooLarge extends SwitchyardError {
  constructor(
    readonly channelId: number,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`message on channel ${channelId} reached ${size} bytes, over the channel's ${limit}-byte receive capacity`);
  }
}

/** We pinged and no pong came back within pongTimeoutMs. */
export class ErrPongTimeout extends SwitchyardError {
  constructor(readonly timeoutMs: number) {
    super(`no pong within ${timeoutMs} ms`);
  }
}

/** The underlying stream ended or closed while the connection was running. */
export class ErrConnectionClosed extends SwitchyardError {
  constructor(readonly how: 'end' | 'close') {
    super(how === 'end' ? 'peer closed the connection (end of stream)' : 'underlying connection closed');
  }
}

/** The underlying stream reported an I/O error. */
export class ErrConnectionIO extends SwitchyardError {
  constructor(cause: unknown) {
    super(`connection I/O error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The receive handler threw while handling a message; the connection stops rather than crash. */
export class ErrReceiveHandlerFailed extends SwitchyardError {
  constructor(
    readonly channelId: number,
    cause: unknown,
  ) {
    super(`receive handler failed on channel ${channelId}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** flushStop could not write out everything queued within its time bound. */
export class ErrFlushStopTimeout extends SwitchyardError {
  constructor(
    readonly timeoutMs: number,
    readonly unsentBytes: number,
  ) {
    super(`flushStop gave up after ${timeoutMs} ms with ${unsentBytes} bytes unsent`);
  }
}
