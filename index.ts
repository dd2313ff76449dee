/**
 * Switchyard's public API. Everything a user programs against is re-exported here; modules not
 * listed are internal.
 */
export { type Clock, type TimerHandle, SystemClock, VirtualClock, systemClock } from './p2p/clock.js';
export { type Rng, SeededRng, CryptoRng, cryptoRng } from './p2p/rng.js';
export { type Logger, silentLogger } from './p2p/logger.js';
export { SwitchyardError } from './p2p/errors.js';
export { createDuplexPair } from './p2p/conn/duplex-pair.js';
