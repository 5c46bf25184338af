/** The default engine: channels live in this process; delivery is a direct call. */
import { FrameType } from '../../protocol/frame-codes.js';
import { HEADER_SIZE } from '../../protocol/header.js';
import { writeU64 } from '../../protocol/control.js';
import type { ChannelSink, Delivery, Engine, EngineChannel, EngineOptions, SourceUpdate } from '../engine.js';
import { StateCache } from '../state-cache.js';

/**
 * Applies a source update to a cache and returns what receivers get (undefined: nothing).
 * Shared with other engines so every node computes deliveries the same way.
 */
export function applyUpdate(cache: StateCache, update: SourceUpdate): Delivery | undefined {
  switch (update.kind) {
    case 'sync': {
      const before = cache.snapshot();
      const diff = cache.applySync(update.state);
      if (Object.keys(diff).length === 0) return undefined;
      return { kind: 'diff', diff, before, raw: undefined };
    }
    case 'diff': {
      const before = cache.snapshot();
      if (!cache.applyDiff(update.diff)) return undefined;
      return { kind: 'diff', diff: update.diff, before, raw: update.raw };
    }
    case 'schema':
      cache.schemaFrame = update.raw.slice();
      return { kind: 'schema', raw: cache.schemaFrame };
    case 'picture':
      cache.setPicture(update.width, update.height, update.rgba);
      return { kind: 'picture', raw: update.raw };
    case 'compressed-picture':
      cache.setCompressedPicture(update.raw);
      return { kind: 'picture', raw: update.raw };
    case 'delta':
      // Without a base picture of that size nobody can use the delta: drop it, joiners get keyframes.
      if (!cache.applyPictureDelta(update.width, update.height, update.delta)) return undefined;
      return { kind: 'delta', raw: update.raw };
    case 'log': {
      // The relay owns offsets: rewrite the record's offset field in a private copy.
      const frame = update.raw.slice();
      if (frame[0] !== FrameType.LogRecord) return undefined;
      const offset = cache.log.next;
      writeU64(new DataView(frame.buffer, frame.byteOffset + HEADER_SIZE, 8), 0, offset);
      cache.log.append(frame);
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
  publish(update: SourceUpdate): void {
    const d = applyUpdate(this.cache, update);
    if (d !== undefined) this.sink.deliver(d);
  }
  sendToSource(frame: Uint8Array): boolean {
    return this.sink.toSource(frame);
  }
  sendToReceiver(receiverId: number, frame: Uint8Array): void {
    this.sink.toReceiver(receiverId, frame);
  }
  setSourceOnline(online: boolean): void {
    this.sourceOnline = online;
    this.sourceSince = Date.now();
    this.sink.sourceStatus(online, this.sourceSince);
  }
  release(): void {}
}

export class MemoryEngine implements Engine {
  readonly name = 'memory';
  constructor(private readonly options: EngineOptions) {}
  openChannel(_name: string, sink: ChannelSink): EngineChannel {
    return new MemoryChannel(sink, this.options);
  }
  async close(): Promise<void> {}
}
