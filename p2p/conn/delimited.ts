/**
 * Uvarint-length-delimited messages over a byte stream (gogoproto's protoio format: a uvarint
 * byte count, then exactly that many bytes).
 *
 * The reader never takes a byte past the end of the message it reads: it pulls the varint one
 * byte at a time and then exactly the body length with `Readable.read(n)`, so whatever the peer
 * sent next stays in the stream for the next reader (the SecretConnection's frame reader after
 * the clear-text key exchange, the MConnection after the NodeInfo exchange).
 * The length is checked against the caller's limit before any body byte is buffered.
 */
import type { Readable, Writable } from 'node:stream';
import { SwitchyardError } from '../errors.js';

/** A uvarint has at most 10 bytes (64 bits, 7 per byte). */
const MAX_UVARINT_BYTES = 10;

/** The length prefix announces more bytes than the reader accepts for this message. */
export class ErrDelimitedMessageTooLarge extends SwitchyardError {
  constructor(readonly what: string, readonly size: number, readonly limit: number) {
    super(`${what}: length prefix announces ${size} bytes, limit is ${limit}`);
  }
}

/** The stream ended (or closed) before the whole message arrived. */
export class ErrDelimitedMessageTruncated extends SwitchyardError {
  constructor(
    readonly what: string,
    /** 'length' when the stream ended inside (or before) the uvarint prefix, 'body' after it. */
    readonly part: 'length' | 'body',
    readonly receivedBytes: number,
    /** The announced body length; undefined when the prefix itself was cut off. */
    readonly expectedBytes: number | undefined,
  ) {
    super(
      part === 'length'
        ? `${what}: stream ended before the length prefix was complete (${receivedBytes} prefix bytes)`
        : `${what}: stream ended after ${receivedBytes} of ${expectedBytes} bytes`,
    );
  }
}

/** The length prefix is not a valid uvarint (longer than 10 bytes). */
export class ErrDelimitedVarintMalformed extends SwitchyardError {
  constructor(readonly what: string) {
    super(`${what}: length prefix is not a valid uvarint`);
  }
}

export interface ReadDelimitedOptions {
  /** Largest body accepted, in bytes; a larger length prefix fails before the body is read. */
  maxBytes: number;
  /** Names the message in errors (e.g. 'NodeInfo'). Default 'delimited message'. */
  what?: string;
  /** Aborting stops the read, removes its listeners and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Encodes `n` as a protobuf uvarint. */
export function encodeUvarint(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`uvarint value must be a non-negative safe integer, got ${n}`);
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** The uvarint length prefix followed by `body`, as one buffer (so one write carries both). */
export function encodeDelimited(body: Uint8Array): Buffer {
  const prefix = encodeUvarint(body.length);
  const out = Buffer.allocUnsafe(prefix.length + body.length);
  prefix.copy(out, 0);
  out.set(body, prefix.length);
  return out;
}

/** Writes `body` with its length prefix in a single write; resolves when the stream accepted it. */
export function writeDelimited(stream: Writable, body: Uint8Array): Promise<void> {
  const bytes = encodeDelimited(body);
  return new Promise((resolve, reject) => {
    stream.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Reads one uvarint-length-delimited message and returns its body. Throws
 * ErrDelimitedMessageTooLarge, ErrDelimitedMessageTruncated or ErrDelimitedVarintMalformed, the
 * stream's own error if it fails, or the abort reason.
 *
 * One set of listeners serves the whole message (prefix and body): the prefix is taken a byte
 * at a time with `read(1)` inside a single 'readable' handler, so a prefix that is already
 * buffered costs no listener changes and no extra promises (this runs twice per handshake and
 * once per NodeInfo exchange, so it is on the upgrade's hot path).
 */
export function readDelimited(stream: Readable, options: ReadDelimitedOptions): Promise<Buffer> {
  const what = options.what ?? 'delimited message';
  const { maxBytes, signal } = options;
  return new Promise<Buffer>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    if (stream.errored) {
      reject(stream.errored);
      return;
    }
    let prefixBytes = 0;
    let length = 0;
    let scale = 1;
    /** The announced body length once the prefix is complete; -1 while reading the prefix. */
    let bodyLength = -1;
    let settled = false;
    const finish = (result: Buffer | null, err?: unknown): void => {
      if (settled) return;
      settled = true;
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (result) resolve(result);
      else reject(err);
    };
    const truncated = (received: number): ErrDelimitedMessageTruncated =>
      bodyLength < 0
        ? new ErrDelimitedMessageTruncated(what, 'length', prefixBytes, undefined)
        : new ErrDelimitedMessageTruncated(what, 'body', received, bodyLength);
    /** Takes what it can; settles when the message is complete or cannot be. */
    const onReadable = (): void => {
      while (bodyLength < 0) {
        if (prefixBytes === MAX_UVARINT_BYTES) {
          finish(null, new ErrDelimitedVarintMalformed(what));
          return;
        }
        const b = stream.read(1) as Buffer | null;
        if (b === null) return; // wait for more ('end' reports a cut-off prefix)
        if (b.length === 0) {
          finish(null, truncated(0));
          return;
        }
        const byte = b[0];
        prefixBytes++;
        length += (byte & 0x7f) * scale;
        scale *= 0x80;
        // Later bytes only add higher bits, so the running value is a lower bound: fail early.
        if (length > maxBytes) {
          finish(null, new ErrDelimitedMessageTooLarge(what, length, maxBytes));
          return;
        }
        if ((byte & 0x80) === 0) bodyLength = length;
      }
      if (bodyLength === 0) {
        finish(Buffer.alloc(0));
        return;
      }
      // read(n) returns exactly n bytes, or null while fewer are buffered; after the end it
      // returns whatever is left (fewer than n).
      const body = stream.read(bodyLength) as Buffer | null;
      if (body === null) return;
      if (body.length < bodyLength) finish(null, truncated(body.length));
      else finish(body);
    };
    const onEnd = (): void => finish(null, truncated(0));
    const onError = (err: unknown): void => finish(null, err);
    const onClose = (): void => finish(null, stream.errored ?? truncated(0));
    const onAbort = (): void => finish(null, signal!.reason);
    if (stream.destroyed || stream.readableEnded) {
      reject(truncated(0));
      return;
    }
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    onReadable();
  });
}
