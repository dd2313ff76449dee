/**
 * Reactors are the Switch's plug-ins: each owns some channels, hears about peers coming and going,
 * and receives the messages on its channels. `BaseReactor` gives no-op defaults so a custom
 * reactor only writes what it needs.
 *
 * Call order per peer, guaranteed by the Switch: `initPeer` on every reactor → the connection
 * starts → `addPeer` on every reactor → `receive` … → the connection closes → `removePeer` on every
 * reactor (awaited when it returns a promise) → the peer leaves the peer set. A reconnecting peer
 * is never given `initPeer` before every `removePeer` of its previous connection has finished.
 */
import type { ChannelDescriptor } from './conn/channel.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';

export type { ChannelDescriptor };

/** One received message. `message` is only valid during the call unless copied (it may be a view). */
export interface Envelope {
  peer: Peer;
  channelId: number;
  message: Uint8Array;
}

export interface Reactor {
  /** The channels this reactor owns; read once, when the reactor is added. */
  getChannels(): ChannelDescriptor[];
  /** Called by `Switch.addReactor`. */
  setSwitch?(sw: Switch): void;
  /** Called by `Switch.start` before it accepts or dials; awaited. */
  start?(): Promise<void> | void;
  /** Called by `Switch.stop` after every peer is gone; awaited. */
  stop?(): Promise<void> | void;
  /** Before the peer's connection starts: set up per-peer state (peer.set(...)). */
  initPeer?(peer: Peer): void;
  /** The peer is connected and may be sent to. Throwing stops the peer. */
  addPeer(peer: Peer): void;
  /** The peer's connection is closed; sends to it fail. Awaited (with a bound) before the peer leaves the peer set. */
  removePeer(peer: Peer, reason: unknown): void | Promise<void>;
  /** A message on one of this reactor's channels. Throwing stops that peer. */
  receive(envelope: Envelope): void;
}

/** No-op defaults: extend it, pass your channels to `super(...)` and override what you need. */
export abstract class BaseReactor implements Reactor {
  /** The Switch this reactor was added to; set by `setSwitch`. */
  protected sw: Switch | undefined;
  private readonly channels: ChannelDescriptor[];

  constructor(channels: ChannelDescriptor[] = []) {
    this.channels = channels;
  }

  getChannels(): ChannelDescriptor[] {
    return this.channels;
  }

  setSwitch(sw: Switch): void {
    this.sw = sw;
  }

  start(): Promise<void> | void {}

  stop(): Promise<void> | void {}

  initPeer(_peer: Peer): void {}

  addPeer(_peer: Peer): void {}

  removePeer(_peer: Peer, _reason: unknown): void | Promise<void> {}

  receive(_envelope: Envelope): void {}
}
