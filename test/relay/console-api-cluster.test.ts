// The console's relay panel on the Redis engine: every node of the cluster, with its connections.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from '../cluster/cluster-harness.js';
import { TestPeer } from '../support/relay-harness.js';

describe('console API on a Redis cluster', () => {
  it('/api/relay lists the cluster nodes and their connections', { timeout: 60_000 }, async (t) => {
    const cluster = new Cluster(undefined, 600);
    t.after(() => cluster.stop());
    const a = await cluster.start();
    const b = await cluster.start();
    const src = await TestPeer.connect(`${a.url}/source/shared`);
    const r1 = await TestPeer.connect(`${b.url}/stream/shared`);
    const r2 = await TestPeer.connect(`${b.url}/stream/shared`);
    t.after(() => {
      for (const p of [src, r1, r2]) p.close();
    });
    type Node = { id: string; connections: number; channels: number; self: boolean };
    let nodes: Node[] = [];
    const deadline = Date.now() + 20_000;
    const ready = () => nodes.length === 2 && nodes.some((n) => n.connections === 2) && nodes.some((n) => n.connections === 1 && n.self);
    while (!ready()) {
      assert.ok(Date.now() < deadline, `both nodes with their connections, got ${JSON.stringify(nodes)}`);
      const j = (await (await fetch(`${a.http}/api/relay`)).json()) as { cluster: Node[] | null };
      nodes = j.cluster ?? [];
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(nodes.map((n) => n.connections).sort(), [1, 2]);
    assert.ok(nodes.every((n) => n.channels === 1));
  });
});
