/**
 * The Switch's typed events, on an eventemitter3 emitter whose listeners are isolated: a listener
 * that throws is logged and the remaining listeners still run, so user code can never break the
 * Switch's own bookkeeping (events are emitted in the middle of it).
 */
import { EventEmitter } from 'eventemitter3';
import type { Logger } from './logger.js';
import type { NetAddress } from './net-address.js';
import type { Peer } from './peer.js';
import type { TransportAddress } from './transport/transport.js';

export interface SwitchEvents {
  /** After every reactor's addPeer. */
  'peer:add': (peer: Peer) => void;
  /** After every reactor's removePeer, once the peer left the peer set. */
  'peer:remove': (peer: Peer, reason: unknown) => void;
  /** An outbound dial (or its upgrade, or adding the peer) failed. */
  'dial:error': (addr: NetAddress, error: unknown) => void;
  /** An inbound connection was refused or failed before it became a peer. */
  'accept:error': (remote: TransportAddress, error: unknown) => void;
}

type AnyFn = (...args: never[]) => void;

export class SafeEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  /** One guard per listener function, so removeListener(fn) finds what on(fn) registered. */
  private readonly guards = new WeakMap<AnyFn, AnyFn>();

  constructor(private readonly emitterLogger: Logger) {
    super();
  }

  private guard(event: unknown, fn: AnyFn): AnyFn {
    let g = this.guards.get(fn);
    if (!g) {
      const logger = this.emitterLogger;
      g = function (this: unknown, ...args: never[]): void {
        try {
          fn.apply(this, args);
        } catch (err) {
          logger.error({ err, event: String(event) }, 'event listener threw; ignored');
        }
      };
      this.guards.set(fn, g);
    }
    return g;
  }

  override on<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    return super.on(event, this.guard(event, fn as AnyFn) as EventEmitter.EventListener<Events, T>, context);
  }

  override addListener<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    return super.once(event, this.guard(event, fn as AnyFn) as EventEmitter.EventListener<Events, T>, context);
  }

  override removeListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    const g = fn === undefined ? undefined : (this.guards.get(fn as AnyFn) ?? fn);
    return super.removeListener(event, g as EventEmitter.EventListener<Events, T> | undefined, context, once);
  }

  override off<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.removeListener(event, fn, context, once);
  }
}
