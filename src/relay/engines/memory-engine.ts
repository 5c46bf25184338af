/** The default engine: channels live in this process; delivery is a direct call. */
import { randomUUID } from 'node:crypto';
import { FrameType } from '../../protocol/frame-codes.js';
import { HEADER_SIZE, readHeader } from '../../protocol/header.js';
import { writeU64 } from '../../protocol/control.js';
import { normalizeState } from '../../protocol/merge-patch.js';
import { UpdateRefused } from '../engine.js';
import type { ChannelSink, Delivery, Engine, EngineChannel, EngineOptions, SourceUpdate } from '../engine.js';
import { StateCache } from '../state-cache.js';

/**
 * Applies a source update to a cache and returns what receivers get (undefined: nothing).
 * Shared with other engines so every node computes deliveries the same way.
 */
export function applyUpdate(cache: StateCache, update: SourceUpdate, keepBefore = true): Delivery | undefined {
  switch (update.kind) {
    case 'sync': {
      const before = cache.snapshot();
      // State never holds null: a sync means "the state is this", applied like a patch to {}.
      const diff = cache.applySync(normalizeState(update.state));
      if (before.hadState && Object.keys(diff).length === 0) return undefined;
      return { kind: 'diff', diff, before, raw: undefined, first: !before.hadState };
    }
    case 'diff': {
      const hadState = cache.hasState;
      // Without keepBefore the cache updates in place and no snapshot of the old state exists.
      const before = keepBefore ? cache.snapshot() : undefined;
      if (!cache.applyDiff(update.diff, keepBefore)) {
        if (hadState) return undefined;
        // A first diff that changes nothing still makes the state exist ({}).
        return { kind: 'diff', diff: {}, before, raw: undefined, first: true };
      }
      return { kind: 'diff', diff: update.diff, before, raw: update.raw, first: !hadState };
    }
    case 'schema':
      cache.schemaFrame = new Uint8Array(update.raw);
      return { kind: 'schema', raw: cache.schemaFrame };
    case 'picture':
      cache.setPicture(update.width, update.height, update.rgba, readHeader(update.raw).timestamp);
      return { kind: 'picture', raw: update.raw };
    case 'compressed-picture':
      cache.setCompressedPicture(update.raw);
      return { kind: 'picture', raw: update.raw };
    case 'delta':
      // Without a base picture of that size nobody can use the delta: the source must send a keyframe.
      if (!cache.applyPictureDelta(update.width, update.height, update.delta, readHeader(update.raw).timestamp)) {
        throw new UpdateRefused(`DeltaPixels ${update.width}x${update.height} has no base picture of that size: send a Keyframe first`);
      }
      return { kind: 'delta', raw: update.raw };
    case 'picture-reset':
      cache.clearPicture();
      return { kind: 'picture-reset', raw: update.raw };
    case 'log': {
      const log = cache.log;
      if (update.producer !== undefined) {
        // A resend of a record this channel already stored (the ack was lost with a connection).
        if (log.producer === update.producer && update.seq <= log.producerSeq) return undefined;
        // Another producer's run: start a fresh history instead of concatenating the two.
        if (log.producer !== update.producer && log.next > 0) log.restart();
        log.producer = update.producer;
        log.producerSeq = update.seq;
      }
      // The relay owns offsets: rewrite the record's offset field in a private copy (a real copy
      // even when raw is a Node Buffer, whose slice() is a view).
      const frame = new Uint8Array(update.raw);
      if (frame[0] !== FrameType.LogRecord) return undefined;
      const offset = log.next;
      writeU64(new DataView(frame.buffer, frame.byteOffset + HEADER_SIZE, 8), 0, offset);
      log.append(frame);
      return { kind: 'log', raw: frame, offset };
    }
    case 'media':
      return { kind: 'media', raw: update.raw };
    case 'end':
      return { kind: 'end', raw: update.raw };
  }
}

class MemoryChannel implements EngineChannel {
  readonly cache: StateCache;
  sourceOnline = false;
  sourceSince = Date.now();
  constructor(
    private readonly sink: ChannelSink,
    options: EngineOptions,
  ) {
    this.cache = new StateCache(options.logRetainRecords, options.logRetainBytes);
  }
  publish(update: SourceUpdate): number | undefined {
    const d = applyUpdate(this.cache, update, this.sink.needsBefore());
    if (d !== undefined) this.sink.deliver(d);
    return update.kind === 'log' && update.producer !== undefined ? this.cache.log.producerSeq : undefined;
  }
  sendToSource(frame: Uint8Array): boolean {
    return this.sink.toSource(frame);
  }
  sendToReceiver(receiverId: number, frame: Uint8Array): void {
    this.sink.toReceiver(receiverId, frame);
  }
  setSourceOnline(online: boolean, _requestedAt?: number, admitted?: () => void): void {
    if (online) admitted?.();
    this.sourceOnline = online;
    this.sourceSince = Date.now();
    this.sink.sourceStatus(online, this.sourceSince);
  }
  release(): void {}
}

export class MemoryEngine implements Engine {
  readonly name = 'memory';
  /** A new one per process: a relay restart is visible to clients, who then resync. */
  readonly epoch = randomUUID();
  constructor(private readonly options: EngineOptions) {}
  openChannel(_name: string, sink: ChannelSink): EngineChannel {
    return new MemoryChannel(sink, this.options);
  }
  async close(): Promise<void> {}
}
