/**
 * The engine is the one place that knows where channels live. A channel hands it every update
 * from its source; the engine records it (merged state, picture, history) and delivers it to
 * every relay node's receivers — this node's included — through the channel's sink. Inputs and
 * RPC results travel the other way through it too, so with a shared engine (Redis) a receiver on
 * node B reaches a source on node A.
 */
import { SluiceError } from '../protocol/errors.js';
import type { JsonObject } from '../protocol/utf8.js';
import type { StateCache, StateSnapshot } from './state-cache.js';

/**
 * An update the channel cannot use but that does not make the source's stream invalid (a delta
 * with no base picture): the source gets an Error frame and stays connected.
 */
export class UpdateRefused extends SluiceError {
  constructor(message: string) {
    super('relay/update-refused', message);
    this.name = 'UpdateRefused';
  }
}

/** An update from a channel's source, already validated. `raw` is the frame as received. */
export type SourceUpdate =
  | { kind: 'sync'; state: JsonObject }
  | { kind: 'diff'; diff: JsonObject; raw: Uint8Array }
  | { kind: 'schema'; raw: Uint8Array }
  | { kind: 'picture'; raw: Uint8Array; width: number; height: number; rgba: Uint8Array }
  | { kind: 'compressed-picture'; raw: Uint8Array }
  | { kind: 'delta'; raw: Uint8Array; width: number; height: number; delta: Uint8Array }
  /** `producer`/`seq`: the source's producer id and the record's sequence number (resends are dropped). */
  | { kind: 'log'; raw: Uint8Array; producer: string | undefined; seq: number }
  /** An empty Keyframe: the channel has no picture any more. */
  | { kind: 'picture-reset'; raw: Uint8Array }
  | { kind: 'media'; raw: Uint8Array }
  | { kind: 'end'; raw: Uint8Array };

/** What receivers get, after the engine applied an update to the cache. */
export type Delivery =
  /**
   * A state change. `before` is the state just before it (absent when the sink did not need
   * one, see ChannelSink.needsBefore); `raw` the bytes to send unfiltered receivers, when
   * reusable; `first` marks the channel's first state (receivers get a sync).
   */
  | { kind: 'diff'; diff: JsonObject; before: StateSnapshot | undefined; raw: Uint8Array | undefined; first?: boolean }
  | { kind: 'picture-reset'; raw: Uint8Array }
  | { kind: 'schema'; raw: Uint8Array }
  /** A self-contained picture (Pixels, Keyframe or CompressedPixels). */
  | { kind: 'picture'; raw: Uint8Array }
  | { kind: 'delta'; raw: Uint8Array }
  /** A log record with its relay-assigned offset. */
  | { kind: 'log'; raw: Uint8Array; offset: number }
  | { kind: 'media'; raw: Uint8Array }
  | { kind: 'end'; raw: Uint8Array };

/** Callbacks through which the engine reaches this node's connections of one channel. */
export interface ChannelSink {
  deliver(delivery: Delivery): void;
  /**
   * Whether the next state change must keep a snapshot of the state before it (someone holds an
   * old state, or projects changes from both sides). When false the engine may update in place.
   */
  needsBefore(): boolean;
  /** A frame for the channel's source (inputs, RPC calls). Returns false when it was not accepted. */
  toSource(frame: Uint8Array): boolean;
  /** A frame for one receiver (RPC results, refusals). */
  toReceiver(receiverId: number, frame: Uint8Array): void;
  /** The source came online or went offline (on any node). */
  sourceStatus(online: boolean, since: number): void;
}

/** One channel as the engine holds it. */
export interface EngineChannel {
  /** The channel's cache: read it for catch-up; only the engine writes it. */
  readonly cache: StateCache;
  /**
   * Applies an update from this node's source and delivers it on every node. Throws ProtocolError
   * for a bad delta (the source is closed) and UpdateRefused for one the channel cannot use.
   * Log records return the producer sequence number now committed (for the source's LogAck).
   */
  publish(update: SourceUpdate): number | undefined;
  /** Routes a frame to the channel's source, wherever it is connected. */
  sendToSource(frame: Uint8Array): boolean;
  /** Routes a frame to a receiver, wherever it is connected. */
  sendToReceiver(receiverId: number, frame: Uint8Array): void;
  /**
   * Announces this node's source going online/offline. `requestedAt`: when the source's upgrade
   * request arrived (orders takeovers from different nodes). `admitted` (going online) is called
   * once the source may write — at once in memory, once the channel's lease is held for a shared
   * engine — before any of its updates is applied; a source refused instead is closed through
   * EngineHost.closeSource and never admitted.
   */
  setSourceOnline(online: boolean, requestedAt?: number, admitted?: () => void): void;
  /** Whether a source is connected (on any node) and since when. */
  readonly sourceOnline: boolean;
  readonly sourceSince: number;
  /** Releases the channel on this node (it was garbage-collected). */
  release(): void;
  /** Receivers on every node, where the engine knows (shared engines; refreshed by heartbeat). */
  readonly clusterReceivers?: number | undefined;
}

export interface Engine {
  readonly name: string;
  /** Changes when the engine's data is not the data clients saw before (a restart): clients resync. */
  readonly epoch: string;
  /** This relay node's id within a cluster (shared engines only). */
  readonly nodeId?: string;
  /** False while the engine cannot store updates (its server is unreachable): `/readyz` answers 503. */
  readonly ready?: boolean;
  /** Called once by the relay before any channel is opened (shared engines act on the relay's peers). */
  bind?(host: EngineHost): void;
  openChannel(name: string, sink: ChannelSink): EngineChannel;
  close(): Promise<void>;
  /** The relay nodes sharing this engine, as of their last heartbeat (shared engines only). */
  clusterNodes?(): Promise<ClusterNode[]>;
}

/** One relay node of a cluster, as it last reported itself. */
export interface ClusterNode {
  id: string;
  /** Open connections and channels on that node. */
  connections: number;
  channels: number;
  /** When it last reported (ms since epoch). */
  seenAt: number;
  /** This is the node answering. */
  self: boolean;
}

/** What a shared engine asks of the relay node it serves. */
export interface EngineHost {
  /** Whether a new source of `channel` takes over (else it is refused while another holds it). */
  takesOver(channel: string): boolean;
  /** Closes this node's source of `channel`: an Error frame, then a close with `code`. */
  closeSource(channel: string, code: number, reason: string): void;
  /** Acknowledges log records of this node's source of `channel` up to `seq`, once they are stored. */
  ackSource(channel: string, seq: number): void;
  /** Receivers of `channel` connected to this node. */
  receiverCount(channel: string): number;
  /** This node's load, reported in its cluster heartbeat (see Engine.clusterNodes). */
  nodeLoad?(): { connections: number; channels: number };
}

export interface EngineOptions {
  logRetainRecords: number;
  logRetainBytes: number;
}
