'use strict';
/**
 * The worker thread of FrameCryptoPool (frame-crypto-pool.ts): seals and opens batches of
 * SecretConnection frames off the main thread. Plain CommonJS so that the same file runs from
 * the sources (tests) and from dist (it is copied there by the build).
 *
 * Messages in (one worker serves many sessions; each session is one connection's key pair):
 *   { op: 'keys', session, send, recv }        register a session's two 32-byte keys
 *   { op: 'forget', session }                  drop them
 *   { op: 'seal', job, session, ab, frames, lo, hi }
 *       ab holds `frames` plaintext frame slots (1044 bytes each, the first 1028 filled); each is
 *       sealed in place with the send key and counter lo/hi, +1 per frame.
 *   { op: 'open', job, session, ab, frames, lo, hi }
 *       ab holds `frames` sealed frames; each is opened in place with the recv key and its data
 *       moved down so that all frames' data ends up contiguous from byte 0.
 * Replies, in the order the jobs arrived (ab transferred back):
 *   { job, ab, dataBytes, opened, failure, length }
 *       failure 0 = none, 1 = frame `opened` does not authenticate, 2 = its length field
 *       (`length`) exceeds 1024; dataBytes and opened count the good frames before it.
 */
const { parentPort, workerData } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');

const SEALED = 1044;
const PLAIN = 1028;
const DATA_MAX = 1024;
const TAG = 16;

/** seal(text, tag, nonce, key) in place; open(text, tag, nonce, key) in place → boolean. */
function loadAead() {
  if (workerData.directPath) {
    const raw = require(workerData.directPath);
    const enc = raw.crypto_aead_chacha20poly1305_ietf_encrypt_detached;
    const dec = raw.crypto_aead_chacha20poly1305_ietf_decrypt_detached;
    return {
      seal: (text, tag, nonce, key) => {
        if (enc(text, tag, text, undefined, nonce, key) < 0) throw new Error('libsodium failed to seal a frame');
      },
      open: (text, tag, nonce, key) => dec(text, text, tag, undefined, nonce, key) === 0,
    };
  }
  if (workerData.wrapperPath) {
    const s = require(workerData.wrapperPath);
    return {
      seal: (text, tag, nonce, key) => s.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, tag, text, null, null, nonce, key),
      open: (text, tag, nonce, key) => {
        try {
          s.crypto_aead_chacha20poly1305_ietf_decrypt_detached(text, null, text, tag, null, nonce, key);
          return true;
        } catch {
          return false;
        }
      },
    };
  }
  return {
    seal: (text, tag, nonce, key) => {
      const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
      const sealed = cipher.update(text);
      cipher.final();
      text.set(sealed);
      tag.set(cipher.getAuthTag());
    },
    open: (text, tag, nonce, key) => {
      const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
      decipher.setAuthTag(tag);
      const plain = decipher.update(text);
      try {
        decipher.final();
      } catch {
        return false;
      }
      text.set(plain);
      return true;
    },
  };
}

const aead = loadAead();
const sessions = new Map();
const nonce = new Uint8Array(12);
const nonceView = new DataView(nonce.buffer);

function setNonce(lo, hi) {
  nonceView.setUint32(4, lo, true);
  nonceView.setUint32(8, hi, true);
}

function next(counter) {
  if (counter.lo === 0xffffffff) {
    counter.lo = 0;
    counter.hi++;
  } else counter.lo++;
}

function seal(m, keys) {
  const counter = { lo: m.lo, hi: m.hi };
  for (let i = 0; i < m.frames; i++) {
    const base = i * SEALED;
    setNonce(counter.lo, counter.hi);
    aead.seal(new Uint8Array(m.ab, base, PLAIN), new Uint8Array(m.ab, base + PLAIN, TAG), nonce, keys.send);
    next(counter);
  }
  parentPort.postMessage({ job: m.job, ab: m.ab, dataBytes: 0, opened: m.frames, failure: 0, length: 0 }, [m.ab]);
}

function open(m, keys) {
  const counter = { lo: m.lo, hi: m.hi };
  const bytes = new Uint8Array(m.ab);
  const view = new DataView(m.ab);
  let dataBytes = 0;
  let failure = 0;
  let length = 0;
  let i = 0;
  for (; i < m.frames; i++) {
    const base = i * SEALED;
    setNonce(counter.lo, counter.hi);
    if (!aead.open(new Uint8Array(m.ab, base, PLAIN), new Uint8Array(m.ab, base + PLAIN, TAG), nonce, keys.recv)) {
      failure = 1;
      break;
    }
    length = view.getUint32(base, true);
    if (length > DATA_MAX) {
      failure = 2;
      break;
    }
    bytes.copyWithin(dataBytes, base + 4, base + 4 + length);
    dataBytes += length;
    next(counter);
  }
  parentPort.postMessage({ job: m.job, ab: m.ab, dataBytes, opened: i, failure, length }, [m.ab]);
}

parentPort.on('message', (m) => {
  switch (m.op) {
    case 'keys':
      sessions.set(m.session, { send: new Uint8Array(m.send), recv: new Uint8Array(m.recv) });
      return;
    case 'forget':
      sessions.delete(m.session);
      return;
    case 'seal':
    case 'open': {
      const keys = sessions.get(m.session);
      if (!keys) throw new Error(`frame crypto job for unknown session ${m.session}`);
      if (m.op === 'seal') seal(m, keys);
      else open(m, keys);
      return;
    }
    default:
      throw new Error(`unknown frame crypto op ${String(m.op)}`);
  }
});
