/**
 * The node's metrics, computed at scrape time from the Switch, the address book and PEX (nothing
 * on the hot path). CometBFT's p2p names and labels where CometBFT has the metric; ours for PEX
 * and the address book.
 *
 * Per-channel byte totals survive disconnects: when a peer leaves, its final per-channel counts
 * are folded into a per-channel total, so the message totals only ever go up.
 */
import type { Peer } from '../p2p/peer.js';
import type { Switch } from '../p2p/switch.js';
import type { PexStats } from '../pex/pex-reactor.js';
import type { FrameCryptoPoolStats } from '../p2p/conn/frame-crypto-pool.js';
import type { Metrics, Sample } from './metrics.js';

export interface P2pMetricsSources {
  sw: Switch;
  /** Address book counts (AddrBook.counts()). */
  bookCounts(): { new: number; old: number; banned: number };
  /** PEX counters, when PEX runs (PexReactor.stats). */
  pexStats?(): PexStats;
  /** Number of running operator bans (RPC ban_address). */
  operatorBans?(): number;
  /** Frame crypto pool counters, when the node has a pool (FrameCryptoPool.stats). */
  cryptoPoolStats?(): FrameCryptoPoolStats;
  /** Name of the reactor owning a channel, for message_type labels. */
  reactorOfChannel(channelId: number): string | undefined;
}

/** CometBFT formats channel IDs with Go's %#x: 0x0, 0x20, 0x40. */
export function channelLabel(id: number): string {
  return `0x${id.toString(16)}`;
}

export function registerP2pMetrics(metrics: Metrics, src: P2pMetricsSources): void {
  const { sw } = src;
  const departedSent = new Map<number, number>();
  const departedReceived = new Map<number, number>();
  sw.on('peer:remove', (peer: Peer) => {
    let status;
    try {
      status = peer.status();
    } catch {
      return;
    }
    for (const ch of status.channels) {
      departedSent.set(ch.id, (departedSent.get(ch.id) ?? 0) + ch.bytesSent);
      departedReceived.set(ch.id, (departedReceived.get(ch.id) ?? 0) + ch.bytesReceived);
    }
  });

  // Connections refused because the peer's ID is banned (the Switch's ban list): on the connect
  // path only, never per message.
  const refusedBanned = metrics.counter('p2p_banned_refusals_total', 'Connections refused because the peer is banned: inbound after the upgrade, outbound before dialing.', ['direction']);
  const isBannedRefusal = (err: unknown): err is Error & { direction: string } => err instanceof Error && err.name === 'ErrRejectedBanned';

  const dials = metrics.counter('p2p_dials_total', 'Outbound dials by outcome (success: the peer was added; banned: refused, the ID is banned).', ['outcome']);
  sw.on('peer:add', (peer: Peer) => {
    if (peer.outbound) dials.inc({ outcome: 'success' });
  });
  sw.on('dial:error', (_addr, err) => {
    if (isBannedRefusal(err)) {
      dials.inc({ outcome: 'banned' });
      refusedBanned.inc({ direction: err.direction });
    } else {
      dials.inc({ outcome: 'failure' });
    }
  });
  sw.on('accept:error', (_remote, err) => {
    if (isBannedRefusal(err)) refusedBanned.inc({ direction: err.direction });
  });

  const statuses = (): Array<{ peer: Peer; channels: ReturnType<Peer['status']>['channels'] }> =>
    sw.peers.list().map((peer) => ({ peer, channels: peer.status().channels }));

  metrics.collector('p2p_peers', 'Number of connected peers.', 'gauge', [], () => sw.peers.list().length);
  metrics.collector('p2p_peer_receive_bytes_total', 'Message bytes received from each connected peer, per channel.', 'counter', ['peer_id', 'chID'], () =>
    statuses().flatMap(({ peer, channels }) => channels.map((c) => ({ labels: { peer_id: peer.id, chID: channelLabel(c.id) }, value: c.bytesReceived }))),
  );
  metrics.collector('p2p_peer_send_bytes_total', 'Message bytes sent to each connected peer, per channel.', 'counter', ['peer_id', 'chID'], () =>
    statuses().flatMap(({ peer, channels }) => channels.map((c) => ({ labels: { peer_id: peer.id, chID: channelLabel(c.id) }, value: c.bytesSent }))),
  );
  metrics.collector(
    'p2p_peer_pending_send_bytes',
    'Messages queued for sending to each peer, over all channels (CometBFT counts messages here despite the name).',
    'gauge',
    ['peer_id'],
    () => statuses().map(({ peer, channels }) => ({ labels: { peer_id: peer.id }, value: channels.reduce((n, c) => n + c.sendQueueSize, 0) })),
  );

  const perChannel = (departed: Map<number, number>, pick: (c: { bytesSent: number; bytesReceived: number }) => number): Sample[] => {
    const totals = new Map(departed);
    for (const { channels } of statuses()) for (const c of channels) totals.set(c.id, (totals.get(c.id) ?? 0) + pick(c));
    return [...totals.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([id, value]) => ({ labels: { message_type: `${src.reactorOfChannel(id) ?? 'unknown'}_${channelLabel(id)}` }, value }));
  };
  metrics.collector('p2p_message_receive_bytes_total', 'Message bytes received, by reactor and channel.', 'counter', ['message_type'], () =>
    perChannel(departedReceived, (c) => c.bytesReceived),
  );
  metrics.collector('p2p_message_send_bytes_total', 'Message bytes sent, by reactor and channel.', 'counter', ['message_type'], () =>
    perChannel(departedSent, (c) => c.bytesSent),
  );

  metrics.collector('p2p_addrbook_size', 'Addresses in the address book, per table (banned: in the ban list).', 'gauge', ['table'], () => {
    const c = src.bookCounts();
    return [
      { labels: { table: 'new' }, value: c.new },
      { labels: { table: 'old' }, value: c.old },
      { labels: { table: 'banned' }, value: c.banned },
    ];
  });

  const operatorBans = src.operatorBans;
  if (operatorBans) {
    metrics.collector('p2p_operator_bans', 'Running operator bans (RPC ban_address).', 'gauge', [], () => operatorBans());
  }
  const cryptoStats = src.cryptoPoolStats;
  if (cryptoStats) {
    metrics.collector('p2p_crypto_threads', 'Worker threads for bulk frame encryption (p2p.crypto_threads), and how many have started.', 'gauge', ['state'], () => {
      const s = cryptoStats();
      return [
        { labels: { state: 'configured' }, value: s.threads },
        { labels: { state: 'started' }, value: s.workersStarted },
      ];
    });
    metrics.collector('p2p_crypto_offloaded_frames_total', 'SecretConnection frames sealed or opened on the crypto worker threads.', 'counter', ['op'], () => {
      const s = cryptoStats();
      return [
        { labels: { op: 'seal' }, value: s.sealedFrames },
        { labels: { op: 'open' }, value: s.openedFrames },
      ];
    });
  }

  const pex = src.pexStats;
  if (pex) {
    metrics.collector('p2p_pex_requests_sent_total', 'PEX address requests sent.', 'counter', [], () => pex().requestsSent);
    metrics.collector('p2p_pex_requests_received_total', 'PEX address requests received (answered or not).', 'counter', [], () => pex().requestsReceived);
    metrics.collector('p2p_pex_requests_answered_total', 'PEX address requests answered.', 'counter', [], () => pex().requestsAnswered);
    metrics.collector('p2p_pex_addrs_received_total', 'Addresses received in PEX answers.', 'counter', [], () => pex().addrsReceived);
    metrics.collector('p2p_pex_bans_total', 'Addresses or peers banned by PEX (abuse, exhausted dials).', 'counter', [], () => pex().bans);
    metrics.collector('p2p_pex_ensure_peers_rounds_total', 'ensurePeers rounds run (timer and seed wake-ups).', 'counter', [], () => pex().ensureRounds);
    metrics.collector('p2p_pex_seed_wakeups_total', 'Seed answers that woke the dialing at once (fast-dial).', 'counter', [], () => pex().seedWakeUps);
    metrics.collector(
      'p2p_pex_dials_total',
      'Dials PEX made, by outcome: started, then each ends as success, failure, banned (refused: the ID is banned) or already_connected.',
      'counter',
      ['outcome'],
      () => {
        const s = pex();
        return [
          { labels: { outcome: 'started' }, value: s.dialsStarted },
          { labels: { outcome: 'success' }, value: s.dialSuccesses },
          { labels: { outcome: 'failure' }, value: s.dialFailures },
          { labels: { outcome: 'banned' }, value: s.dialsRefusedBanned },
          { labels: { outcome: 'already_connected' }, value: s.dialsAlreadyConnected },
        ];
      },
    );
  }
}
