/**
 * What an MConnection reports to operators, and its rendering in CometBFT's `/net_info`
 * `connection_status` shape (Go field names; int/int64 values as decimal strings and durations
 * in nanoseconds, as CometBFT's JSON encoder writes them).
 */
import type { RateStatus } from './flow-rate.js';

export interface ChannelStatus {
  id: number;
  priority: number;
  sendQueueCapacity: number;
  /** Messages queued plus the one being sent. */
  sendQueueSize: number;
  /** The scheduler's decaying byte count. */
  recentlySent: number;
  /** Message bytes fully sent / received (payload only, no packet overhead). */
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
}

export interface ConnectionStatus {
  /** Time since the MConnection was created (ms). */
  durationMs: number;
  /** Configured limits in bytes per second (0 = unlimited). */
  sendRate: number;
  recvRate: number;
  /** All bytes written / read on the stream, packet overhead and pings included. */
  sendMonitor: RateStatus;
  recvMonitor: RateStatus;
  channels: ChannelStatus[];
}

export interface CometRateStatusJson {
  Start: string;
  Bytes: string;
  Samples: string;
  InstRate: string;
  CurRate: string;
  AvgRate: string;
  PeakRate: string;
  BytesRem: string;
  Duration: string;
  Idle: string;
  TimeRem: string;
  Progress: number;
  Active: boolean;
}

export interface CometConnectionStatusJson {
  Duration: string;
  SendMonitor: CometRateStatusJson;
  RecvMonitor: CometRateStatusJson;
  Channels: { ID: number; SendQueueCapacity: string; SendQueueSize: string; Priority: string; RecentlySent: string }[];
}

const msToNs = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();

function rateJson(s: RateStatus, active: boolean): CometRateStatusJson {
  return {
    Start: new Date(s.startMs).toISOString(),
    Bytes: String(s.bytes),
    Samples: String(s.samples),
    InstRate: String(s.instRate),
    CurRate: String(s.curRate),
    AvgRate: String(s.avgRate),
    PeakRate: String(s.peakRate),
    BytesRem: '0',
    Duration: msToNs(s.durationMs),
    Idle: msToNs(s.idleMs),
    TimeRem: '0',
    Progress: 0,
    Active: active,
  };
}

/** Renders a status the way CometBFT's `/net_info` shows `connection_status`. */
export function toCometConnectionStatus(status: ConnectionStatus, running = true): CometConnectionStatusJson {
  return {
    Duration: msToNs(status.durationMs),
    SendMonitor: rateJson(status.sendMonitor, running),
    RecvMonitor: rateJson(status.recvMonitor, running),
    Channels: status.channels.map((c) => ({
      ID: c.id,
      SendQueueCapacity: String(c.sendQueueCapacity),
      SendQueueSize: String(c.sendQueueSize),
      Priority: String(c.priority),
      RecentlySent: String(c.recentlySent),
    })),
  };
}
