/**
 * What a scrape of a Node's /metrics says after a small scenario on the memory network (virtual
 * clock): PEX requests both ways, dials by outcome, a PEX ban, a refusal of the banned peer, and
 * the address book's tables. Values are read from the exposition text, as Prometheus would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initHome } from '../../node/home.js';
import { loadConfig } from '../../node/load-config.js';
import { Node } from '../../node/node.js';
import { VirtualClock } from '../../p2p/clock.js';
import { NetAddress } from '../../p2p/net-address.js';
import { NodeKey } from '../../p2p/node-key.js';
import type { Peer } from '../../p2p/peer.js';
import { BaseReactor } from '../../p2p/reactor.js';
import { SeededRng } from '../../p2p/rng.js';
import { Switch } from '../../p2p/switch.js';
import { MemoryNetwork } from '../../p2p/transport/memory-transport.js';
import { encodePexAddrs } from '../../pex/pex-codec.js';
import { PEX_CHANNEL_DESCRIPTOR } from '../../pex/pex-reactor.js';

const homes: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** Sends an unsolicited PexAddrs to every peer it meets. */
class Abuser extends BaseReactor {
  constructor() {
    super([{ ...PEX_CHANNEL_DESCRIPTOR }]);
  }
  override addPeer(peer: Peer): void {
    peer.trySend(0, encodePexAddrs([new NetAddress('d'.repeat(40), '10.9.9.9', 26656)]).bytes);
  }
}

function makeNode(clock: VirtualClock, net: MemoryNetwork, ip: string, values: Record<string, string | number | boolean> = {}): Node {
  const home = mkdtempSync(join(tmpdir(), 'sy-metrics-'));
  homes.push(home);
  initHome(home, { moniker: ip, 'p2p.laddr': `tcp://${ip}:26656`, 'p2p.addr_book_strict': false, 'rpc.laddr': '', 'instrumentation.namespace': 'sy', ...values });
  const config = loadConfig(home);
  const node = new Node(
    { clock, rng: new SeededRng(ip.length + Number(ip.split('.')[3])), transport: net.transport(ip) },
    { config, nodeKey: NodeKey.load(config.nodeKeyFile), tuning: { switch: { dialJitterMaxMs: 1 } } },
  );
  stops.push(() => node.stop());
  return node;
}

/** The value of one sample in Prometheus text, e.g. sample(text, 'sy_p2p_pex_dials_total', 'outcome="failure"'). */
function sample(text: string, name: string, labels?: string): number {
  const head = labels === undefined ? `${name} ` : `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(head));
  if (line === undefined) throw new Error(`no sample ${head.trim()} in:\n${text}`);
  return Number(line.slice(head.length));
}

describe('Node metrics after a small network scenario', () => {
  it('PEX requests, dials by outcome, bans, banned refusals and book sizes reach the scrape', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const net = new MemoryNetwork({ clock });
    const a = makeNode(clock, net, '10.0.0.1');
    await a.start();
    const aAddr = a.sw.netAddress();
    // C keeps A as a persistent peer: it dials A and asks it for addresses.
    const c = makeNode(clock, net, '10.0.0.3', { 'p2p.persistent_peers': aAddr.toString() });
    await c.start();
    await clock.advanceAsync(1);
    expect(await clock.runUntil(() => a.sw.peers.size === 1 && a.pex!.stats.requestsAnswered === 1, 1000, 10)).toBe(true);

    // An abuser gets banned by A's PEX, then is refused when it comes back.
    const abuser = new Switch(
      { transport: net.transport('10.0.0.2'), nodeKey: NodeKey.generate(), clock, rng: new SeededRng(9) },
      { nodeInfo: { network: 'switchyard-local', moniker: 'abuser' } },
    );
    abuser.addReactor('pex', new Abuser());
    await abuser.start();
    stops.push(() => abuser.stop());
    await abuser.dialPeerWithAddress(aAddr);
    expect(await clock.runUntil(() => a.pex!.stats.bans === 1 && !a.sw.peers.has(abuser.nodeInfo().id), 1000, 10)).toBe(true);
    await abuser.dialPeerWithAddress(aAddr).catch(() => undefined);
    await clock.advanceAsync(10);
    // Nor does A dial it.
    await expect(a.sw.dialPeerWithAddress(abuser.netAddress())).rejects.toMatchObject({ name: 'ErrRejectedBanned' });

    // A's next ensurePeers round dials an address that does not answer.
    const dead = new NetAddress('e'.repeat(40), '10.0.0.9', 26656);
    a.addrBook.addAddress(dead, dead);
    a.bans.ban('f'.repeat(40), 60_000);
    expect(await clock.runUntil(() => a.pex!.stats.dialFailures === 1, 60_000, 1000)).toBe(true);

    const text = a.metrics.expose();
    expect(sample(text, 'sy_p2p_peers')).toBe(1);
    // C asked A on connecting and on its timer rounds since; A answered each.
    const asked = c.pex!.stats.requestsSent;
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'sy_p2p_pex_requests_received_total')).toBe(asked);
    expect(sample(text, 'sy_p2p_pex_requests_answered_total')).toBe(asked);
    expect(sample(text, 'sy_p2p_pex_bans_total')).toBe(1);
    expect(sample(text, 'sy_p2p_pex_dials_total', 'outcome="started"')).toBe(1);
    expect(sample(text, 'sy_p2p_pex_dials_total', 'outcome="failure"')).toBe(1);
    expect(sample(text, 'sy_p2p_pex_dials_total', 'outcome="success"')).toBe(0);
    expect(sample(text, 'sy_p2p_dials_total', 'outcome="failure"')).toBe(1);
    expect(sample(text, 'sy_p2p_dials_total', 'outcome="banned"')).toBe(1);
    expect(sample(text, 'sy_p2p_banned_refusals_total', 'direction="inbound"')).toBe(1);
    expect(sample(text, 'sy_p2p_banned_refusals_total', 'direction="outbound"')).toBe(1);
    expect(sample(text, 'sy_p2p_operator_bans')).toBe(1);
    expect(sample(text, 'sy_p2p_pex_ensure_peers_rounds_total')).toBeGreaterThanOrEqual(2);
    // The book: the dead address (new), C's self-reported address (new), the abuser banned.
    expect(sample(text, 'sy_p2p_addrbook_size', 'table="new"')).toBe(a.addrBook.counts().new);
    expect(a.addrBook.counts().new).toBe(2);
    expect(sample(text, 'sy_p2p_addrbook_size', 'table="old"')).toBe(0);
    expect(sample(text, 'sy_p2p_addrbook_size', 'table="banned"')).toBe(1);

    // C's side: its requests, its dial to A a success (a Switch dial, not a PEX one).
    const cText = c.metrics.expose();
    expect(sample(cText, 'sy_p2p_pex_requests_sent_total')).toBe(asked);
    expect(sample(cText, 'sy_p2p_pex_addrs_received_total')).toBe(c.pex!.stats.addrsReceived);
    expect(sample(cText, 'sy_p2p_dials_total', 'outcome="success"')).toBe(1);
    expect(sample(cText, 'sy_p2p_pex_dials_total', 'outcome="started"')).toBe(0);

    // Scrape time: the operator ban runs out and the gauge follows without anything else happening.
    await clock.advanceAsync(60_000);
    expect(sample(a.metrics.expose(), 'sy_p2p_operator_bans')).toBe(0);
  });
});
