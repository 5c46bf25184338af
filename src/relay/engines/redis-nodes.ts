/**
 * Cluster membership for the operations console: every Redis-engine node writes one field of
 * the hash `{prefix}:nodes` at each heartbeat ("connections:channels:seenAt"); readers list the
 * fields seen within the last few heartbeats and delete the rest (nodes that died).
 */
import type { ClusterNode } from '../engine.js';

type Send = (args: readonly string[]) => Promise<unknown>;

/** A node not seen for this many lease periods is no longer listed (and its field is removed). */
const STALE_LEASES = 3;

export function nodesKey(prefix: string): string {
  return `${prefix}:nodes`;
}

/** Writes this node's entry (fire and forget: a lost beat only ages the entry). */
export async function beatNode(send: Send, prefix: string, nodeId: string, load: { connections: number; channels: number }, leaseMs: number, now = Date.now()): Promise<void> {
  await send(['HSET', nodesKey(prefix), nodeId, `${load.connections}:${load.channels}:${now}`]);
  // The hash goes with the cluster: it expires when no node has written it for a while.
  await send(['PEXPIRE', nodesKey(prefix), String(10 * STALE_LEASES * leaseMs)]);
}

/** The nodes seen recently, this one included; entries of dead nodes are removed. */
export async function readNodes(send: Send, prefix: string, selfId: string, leaseMs: number, now = Date.now()): Promise<ClusterNode[]> {
  const reply = await send(['HGETALL', nodesKey(prefix)]);
  // RESP2 answers a flat array, RESP3 a map (a Map or a plain object, depending on the client's type mapping).
  const entries: Array<[unknown, unknown]> = [];
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) entries.push([reply[i], reply[i + 1]]);
  else if (reply instanceof Map) entries.push(...(reply as Map<unknown, unknown>).entries());
  else if (typeof reply === 'object' && reply !== null) entries.push(...Object.entries(reply));
  const nodes: ClusterNode[] = [];
  const stale: string[] = [];
  for (const [key, value] of entries) {
    const id = String(key);
    const [connections, channels, seenAt] = String(value).split(':').map(Number);
    if (!Number.isFinite(seenAt) || now - seenAt! > STALE_LEASES * leaseMs) {
      stale.push(id);
      continue;
    }
    nodes.push({ id, connections: connections ?? 0, channels: channels ?? 0, seenAt: seenAt!, self: id === selfId });
  }
  if (stale.length > 0) void send(['HDEL', nodesKey(prefix), ...stale]).catch(() => {});
  nodes.sort((x, y) => (x.id < y.id ? -1 : 1));
  return nodes;
}
