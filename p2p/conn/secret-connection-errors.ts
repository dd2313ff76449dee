/**
 * Why a SecretConnection handshake or session ended. One class per condition, each with the
 * structured fields a log line or a ban decision needs. Every one of these is caused by the peer
 * (or the network), except ErrInvalidLocalIdentity, which is a local configuration mistake.
 */
import { SwitchyardError } from '../errors.js';

/** The whole handshake (key exchange + AuthSig) did not finish within the deadline. */
export class ErrHandshakeTimeout extends SwitchyardError {
  constructor(readonly timeoutMs: number, readonly phase: string) {
    super(`secret connection handshake timed out after ${timeoutMs} ms (during ${phase})`);
  }
}

/** The raw stream failed (reset, write to a closed socket, ...) during the handshake. */
export class ErrHandshakeStreamFailed extends SwitchyardError {
  constructor(readonly phase: string, cause: unknown) {
    super(`secret connection handshake failed during ${phase}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** The peer's ephemeral key message decoded, but its value is not a 32-byte X25519 key. */
export class ErrInvalidEphemeralKey extends SwitchyardError {
  constructor(readonly length: number) {
    super(`peer's ephemeral X25519 key has ${length} bytes, want 32`);
  }
}

/**
 * X25519 with the peer's ephemeral key gave the all-zero secret: the key is a low-order point
 * (or zero). CometBFT names this condition ErrSmallOrderRemotePubKey.
 */
export class ErrSmallOrderRemotePubKey extends SwitchyardError {
  constructor(readonly remoteEphemeralKeyHex: string) {
    super(`peer's ephemeral key ${remoteEphemeralKeyHex} is a low-order point (shared secret is zero)`);
  }
}

/** A handshake message is not valid protobuf of the expected type. */
export class ErrHandshakeMessageMalformed extends SwitchyardError {
  constructor(readonly messageType: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`malformed ${messageType} from peer: ${reason}`, options);
  }
}

/** The AuthSigMessage carries no key, or a key of a type other than Ed25519 (secp256k1, bls12381). */
export class ErrUnsupportedPubKeyType extends SwitchyardError {
  constructor(readonly keyType: string) {
    super(`peer authenticated with a ${keyType} key; only ed25519 is accepted`);
  }
}

/** The AuthSigMessage's Ed25519 key does not have 32 bytes. */
export class ErrMalformedPubKey extends SwitchyardError {
  constructor(readonly length: number) {
    super(`peer's ed25519 public key has ${length} bytes, want 32`);
  }
}

/** The AuthSigMessage's signature does not verify over the challenge (or is not 64 bytes). */
export class ErrChallengeVerification extends SwitchyardError {
  constructor(readonly remotePubKeyHex: string, readonly signatureLength: number) {
    super(`challenge signature from ${remotePubKeyHex} does not verify (signature of ${signatureLength} bytes)`);
  }
}

/** A decrypted frame's length field says more than 1024 data bytes. */
export class ErrFrameTooLarge extends SwitchyardError {
  constructor(readonly length: number, readonly limit: number, readonly nonce: bigint) {
    super(`secret connection frame ${nonce} claims ${length} data bytes, limit ${limit}`);
  }
}

/** A sealed frame failed ChaCha20-Poly1305 authentication (tampered, wrong key, or out of order). */
export class ErrFrameAuthFailed extends SwitchyardError {
  constructor(readonly nonce: bigint) {
    super(`secret connection frame ${nonce} failed authentication`);
  }
}

/** The peer's stream ended inside a 1044-byte sealed frame. */
export class ErrTruncatedFrame extends SwitchyardError {
  constructor(readonly receivedBytes: number, readonly frameBytes: number) {
    super(`secret connection stream ended inside a frame (${receivedBytes} of ${frameBytes} bytes)`);
  }
}

/**
 * A 64-bit nonce counter reached 2^64-1. Using it would be the last safe frame before wrapping,
 * which would reuse nonces, so the session ends instead (as CometBFT does).
 */
export class ErrNonceExhausted extends SwitchyardError {
  constructor(readonly direction: 'send' | 'receive') {
    super(`secret connection ${direction} nonce counter exhausted; the session must be re-established`);
  }
}

/** The local identity cannot take part in a handshake (no 32-byte Ed25519 public key). */
export class ErrInvalidLocalIdentity extends SwitchyardError {
  constructor(readonly reason: string) {
    super(`local identity for the secret connection is unusable: ${reason}`);
  }
}
