/** Picks the engine a relay's configuration asks for. The Redis engine is loaded only when used. */
import type { Logger } from 'pino';
import type { RelayConfig } from '../config.js';
import type { Engine } from '../engine.js';
import { MemoryEngine } from './memory-engine.js';

export async function createEngine(config: RelayConfig, log?: Logger): Promise<Engine> {
  if (config.engine === 'redis') {
    const { RedisEngine } = await import('./redis-engine.js');
    return RedisEngine.connect({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      leaseMs: config.redisLeaseMs,
      keepMs: config.graceMs,
      keepLogMs: Math.max(config.graceMs, config.logRetainMs),
      logRetainRecords: config.logRetainRecords,
      logRetainBytes: config.logRetainBytes,
      log,
    });
  }
  return new MemoryEngine({ logRetainRecords: config.logRetainRecords, logRetainBytes: config.logRetainBytes });
}
