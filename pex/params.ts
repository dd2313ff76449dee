/**
 * PEX constants. Values carry over from CometBFT (p2p/pex/pex_reactor.go, params.go) unless a
 * comment says why ours differ; names carry their units.
 */

/** The PEX channel id (CometBFT's PexChannel). */
export const PEX_CHANNEL_ID = 0x00;
/** Channel descriptor values CometBFT registers for PEX. */
export const PEX_CHANNEL_PRIORITY = 1;
export const PEX_SEND_QUEUE_CAPACITY = 10;
/** Upper bound of one encoded NetAddress used to size the channel (CometBFT's maxAddressSize). */
export const MAX_ADDRESS_SIZE_BYTES = 256;
/** At most this many addresses in one PexAddrs (the book's maxGetSelection). */
export const MAX_ADDRS_PER_MESSAGE = 250;
/** Largest PEX message on the wire, sent or received: 256 × 250 = 64 000 bytes. */
export const MAX_PEX_MESSAGE_BYTES = MAX_ADDRESS_SIZE_BYTES * MAX_ADDRS_PER_MESSAGE;

/** How often ensurePeers runs. */
export const DEFAULT_ENSURE_PEERS_PERIOD_MS = 30_000;
/** A peer's 3rd and later requests must be at least ensurePeersPeriod / 3 apart. */
export const REQUEST_INTERVAL_DIVISOR = 3;

/** Dial backoff: 2^attempts seconds plus U[0, 1 s) of jitter. */
export const DIAL_BACKOFF_UNIT_MS = 1_000;
export const DIAL_BACKOFF_JITTER_MS = 1_000;
/** A non-persistent address that failed this many dials in a row is banned. */
export const MAX_DIAL_ATTEMPTS = 16;
/** Largest exponent used for the backoff, so huge attempt counts of persistent peers stay finite. */
export const MAX_BACKOFF_EXPONENT = 30;
/** Ban length for misbehaving peers and for addresses that exhausted their attempts. */
export const DEFAULT_BAN_TIME_MS = 24 * 60 * 60 * 1000;

/** New-bucket bias of ensurePeers: min(outbound, 8) × 10 + 10 percent. */
export const BIAS_OUTBOUND_CAP = 8;
/** ensurePeers picks up to this many times the number it wants to dial. */
export const PICKS_PER_DIAL = 3;

/** Seed mode: how often the crawler runs. */
export const CRAWL_PERIOD_MS = 30_000;
/** Seed mode: an address is crawled again only after this long. */
export const MIN_TIME_BETWEEN_CRAWLS_MS = 2 * 60 * 1000;
/** Seed mode: crawl records older than this are dropped. */
export const CRAWL_RECORD_TTL_MS = 24 * 60 * 60 * 1000;
/** Seed mode: non-persistent peers connected longer than this are dropped (the node's 28 h). */
export const DEFAULT_SEED_DISCONNECT_WAIT_MS = 28 * 60 * 60 * 1000;
/** Seed mode: new-bucket bias of the one answer an inbound asker gets. */
export const SEED_ANSWER_BIAS_NEW = 30;
/**
 * Seed mode: concurrent crawl dials. CometBFT dials its whole selection at once (up to 250
 * sockets); a bound keeps a seed's file descriptors predictable.
 */
export const DEFAULT_MAX_CONCURRENT_CRAWL_DIALS = 16;
/**
 * Seed mode: a crawled peer that has not answered our request within this time is dropped, so a
 * silent peer cannot pin a crawl connection. Ours, not CometBFT's.
 */
export const DEFAULT_CRAWL_ANSWER_TIMEOUT_MS = 30_000;
