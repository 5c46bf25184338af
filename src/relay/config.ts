/**
 * Relay configuration: defaults < config file < SLUICE_* environment < command-line flags.
 * Every option is listed once here, with its default, env name and help text; the CLI's
 * `--help` is generated from this table.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_MAX_PAYLOAD } from '../protocol/header.js';

export type SourcePolicy = 'reject' | 'takeover';
export type AuthMode = 'none' | 'jwt';

export interface RelayConfig {
  port: number;
  host: string;
  /** Receivers per channel; the next is refused with 4509. */
  maxReceiversPerChannel: number;
  /** Channels per relay; a connection that would create one more is refused with 4509. */
  maxChannels: number;
  /** Largest accepted payload (bytes); larger frames close the connection with 1009. */
  maxPayload: number;
  /** Largest accepted JSON payload (state, diffs, control frames); larger close with 1009. */
  maxJsonPayload: number;
  /** Largest merged state per channel (JSON bytes); updates that would pass it are refused. */
  maxStateBytes: number;
  /** Inbound frames per second per connection; past it the relay stops reading the socket (TCP push-back). */
  maxFramesPerSecond: number;
  /** Relay → peer WebSocket ping interval. */
  heartbeatMs: number;
  /** A peer silent (no frame, no pong) for this long is dropped. */
  idleTimeoutMs: number;
  /** How long a channel keeps its state after its source leaves. */
  graceMs: number;
  /** How often idle channels are looked for. */
  gcIntervalMs: number;
  /** A receiver whose outbound queue passes this many bytes is "behind" (conflation / skipping). */
  receiverHighWaterBytes: number;
  /** A log receiver is closed with 4413 past this many queued bytes. */
  logReceiverMaxBytes: number;
  /** Records and bytes a log channel retains for late joiners and resumes. */
  logRetainRecords: number;
  logRetainBytes: number;
  /** Inputs queued for a source that is not reading; past this, inputs are refused with an Error. */
  sourceInputMaxBytes: number;
  /** How long a log channel's history and final status stay readable after its source ends. */
  logRetainMs: number;
  /** Text queued for a signaling peer that is not reading; past this it is closed with 4413. */
  signalMaxBytes: number;
  /** Channels one `/ws` (go-ws) connection may subscribe to; more get an error message. */
  maxWsSubscriptions: number;
  sourcePolicy: SourcePolicy;
  /** Channel patterns (`*` globs) whose policy is `takeover` whatever sourcePolicy says. */
  takeoverChannels: string[];
  auth: AuthMode;
  /** HS256 secret for `auth: jwt` (or use jwtPublicKey). */
  jwtSecret: string | undefined;
  /** PEM public key (RS256/ES256/EdDSA) for `auth: jwt`. */
  jwtPublicKey: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  /** Browser origins allowed to connect; empty = any. */
  allowedOrigins: string[];
  /** Deadline for a graceful shutdown before the process exits anyway. */
  shutdownTimeoutMs: number;
  logLevel: string;
  /** Name of the engine in use: `memory` (default) or `redis` (the CLI creates it; see engines/index.ts). */
  engine: string;
  /** Redis engine: server URL, namespace of every key and pub/sub channel, and a channel writer's lease. */
  redisUrl: string;
  redisPrefix: string;
  redisLeaseMs: number;
  /** Socket layer: `ws` (node:http + ws, no native code) or `uws` (uWebSockets.js, optional package). */
  transport: 'ws' | 'uws';
  /** Open `/api/feed` connections (operations console); the next is refused with 4509. */
  consoleMaxFeeds: number;
  /** Bytes a feed client's socket may hold before ticks are skipped for it (closed with 4413 after 10 s). */
  consoleFeedMaxBytes: number;
  /** Channels exported with per-channel Prometheus series (cardinality guard); 0 = none. */
  metricsChannels: number;
  /** Only channels matching one of these `*` globs get per-channel series (empty = any, still capped). */
  metricsChannelPatterns: string[];
  /**
   * `sluice relay` only: relay processes on this host sharing the port (node:cluster) and the
   * engine, so every core serves. More than one needs the Redis engine.
   */
  workers: number;
}

export const DEFAULT_CONFIG: RelayConfig = {
  port: 9100,
  host: '0.0.0.0',
  maxReceiversPerChannel: 10_000,
  maxChannels: 10_000,
  maxPayload: DEFAULT_MAX_PAYLOAD,
  maxJsonPayload: 1024 * 1024,
  maxStateBytes: DEFAULT_MAX_PAYLOAD,
  maxFramesPerSecond: 10_000,
  heartbeatMs: 15_000,
  idleTimeoutMs: 45_000,
  graceMs: 30_000,
  gcIntervalMs: 10_000,
  receiverHighWaterBytes: 256 * 1024,
  logReceiverMaxBytes: 8 * 1024 * 1024,
  logRetainRecords: 100_000,
  logRetainBytes: 64 * 1024 * 1024,
  sourceInputMaxBytes: 4 * 1024 * 1024,
  logRetainMs: 3_600_000,
  signalMaxBytes: 1024 * 1024,
  maxWsSubscriptions: 100,
  sourcePolicy: 'reject',
  takeoverChannels: [],
  auth: 'none',
  jwtSecret: undefined,
  jwtPublicKey: undefined,
  jwtIssuer: undefined,
  jwtAudience: undefined,
  allowedOrigins: [],
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  engine: 'memory',
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'sluice',
  redisLeaseMs: 5_000,
  transport: 'ws',
  consoleMaxFeeds: 32,
  consoleFeedMaxBytes: 1024 * 1024,
  metricsChannels: 100,
  metricsChannelPatterns: [],
  workers: 1,
};

type Kind = 'int' | 'string' | 'list' | 'enum';
export interface OptionSpec {
  key: keyof RelayConfig;
  flag: string;
  env: string;
  kind: Kind;
  choices?: string[];
  help: string;
}

/** One row per option: flag, env var, parser and help. */
export const OPTION_SPECS: OptionSpec[] = [
  { key: 'transport', flag: 'transport', env: 'SLUICE_TRANSPORT', kind: 'enum', choices: ['ws', 'uws'], help: 'socket layer: ws (pure JS) or uws (uWebSockets.js, optional native package)' },
  { key: 'port', flag: 'port', env: 'SLUICE_PORT', kind: 'int', help: 'TCP port to listen on (0 = any free port)' },
  { key: 'host', flag: 'host', env: 'SLUICE_HOST', kind: 'string', help: 'address to bind' },
  { key: 'maxReceiversPerChannel', flag: 'max-receivers', env: 'SLUICE_MAX_RECEIVERS', kind: 'int', help: 'receivers per channel (then 4509)' },
  { key: 'maxChannels', flag: 'max-channels', env: 'SLUICE_MAX_CHANNELS', kind: 'int', help: 'channels per relay (then 4509)' },
  { key: 'maxPayload', flag: 'max-payload', env: 'SLUICE_MAX_PAYLOAD', kind: 'int', help: 'largest frame payload in bytes (then 1009)' },
  { key: 'maxJsonPayload', flag: 'max-json-payload', env: 'SLUICE_MAX_JSON_PAYLOAD', kind: 'int', help: 'largest JSON payload (state, diffs, control) in bytes (then 1009)' },
  { key: 'maxStateBytes', flag: 'max-state-bytes', env: 'SLUICE_MAX_STATE_BYTES', kind: 'int', help: 'largest merged state per channel in JSON bytes; updates past it are refused (Error 4413 to the source)' },
  { key: 'maxFramesPerSecond', flag: 'max-frames-per-second', env: 'SLUICE_MAX_FRAMES_PER_SECOND', kind: 'int', help: 'inbound frames per second per connection; past it the relay stops reading (TCP push-back)' },
  { key: 'heartbeatMs', flag: 'heartbeat-ms', env: 'SLUICE_HEARTBEAT_MS', kind: 'int', help: 'relay ping interval' },
  { key: 'idleTimeoutMs', flag: 'idle-timeout-ms', env: 'SLUICE_IDLE_TIMEOUT_MS', kind: 'int', help: 'drop a peer silent this long' },
  { key: 'graceMs', flag: 'grace-ms', env: 'SLUICE_GRACE_MS', kind: 'int', help: 'keep a channel this long after its source leaves' },
  { key: 'gcIntervalMs', flag: 'gc-interval-ms', env: 'SLUICE_GC_INTERVAL_MS', kind: 'int', help: 'how often idle channels are collected' },
  { key: 'receiverHighWaterBytes', flag: 'receiver-high-water', env: 'SLUICE_RECEIVER_HIGH_WATER', kind: 'int', help: 'queued bytes after which a receiver is behind' },
  { key: 'logReceiverMaxBytes', flag: 'log-receiver-max-bytes', env: 'SLUICE_LOG_RECEIVER_MAX_BYTES', kind: 'int', help: 'queued bytes after which a log receiver is closed with 4413' },
  { key: 'logRetainRecords', flag: 'log-retain-records', env: 'SLUICE_LOG_RETAIN_RECORDS', kind: 'int', help: 'records a log channel keeps' },
  { key: 'logRetainBytes', flag: 'log-retain-bytes', env: 'SLUICE_LOG_RETAIN_BYTES', kind: 'int', help: 'bytes a log channel keeps' },
  { key: 'sourceInputMaxBytes', flag: 'source-input-max-bytes', env: 'SLUICE_SOURCE_INPUT_MAX_BYTES', kind: 'int', help: 'inputs queued for a slow source before they are refused' },
  { key: 'logRetainMs', flag: 'log-retain-ms', env: 'SLUICE_LOG_RETAIN_MS', kind: 'int', help: 'keep a log channel readable this long after its source ends' },
  { key: 'signalMaxBytes', flag: 'signal-max-bytes', env: 'SLUICE_SIGNAL_MAX_BYTES', kind: 'int', help: 'text queued for a signaling peer before it is closed with 4413' },
  { key: 'maxWsSubscriptions', flag: 'max-ws-subscriptions', env: 'SLUICE_MAX_WS_SUBSCRIPTIONS', kind: 'int', help: 'channels one /ws connection may subscribe to' },
  { key: 'sourcePolicy', flag: 'source-policy', env: 'SLUICE_SOURCE_POLICY', kind: 'enum', choices: ['reject', 'takeover'], help: 'a second source is refused (4409) or replaces the first' },
  { key: 'takeoverChannels', flag: 'takeover-channels', env: 'SLUICE_TAKEOVER_CHANNELS', kind: 'list', help: 'comma-separated channel patterns (* globs) where a new source takes over' },
  { key: 'auth', flag: 'auth', env: 'SLUICE_AUTH', kind: 'enum', choices: ['none', 'jwt'], help: 'connection authorization' },
  { key: 'jwtSecret', flag: 'jwt-secret', env: 'SLUICE_JWT_SECRET', kind: 'string', help: 'HS256 secret for --auth jwt' },
  { key: 'jwtPublicKey', flag: 'jwt-public-key', env: 'SLUICE_JWT_PUBLIC_KEY', kind: 'string', help: 'PEM public key (or @file) for --auth jwt' },
  { key: 'jwtIssuer', flag: 'jwt-issuer', env: 'SLUICE_JWT_ISSUER', kind: 'string', help: 'required JWT issuer' },
  { key: 'jwtAudience', flag: 'jwt-audience', env: 'SLUICE_JWT_AUDIENCE', kind: 'string', help: 'required JWT audience' },
  { key: 'allowedOrigins', flag: 'allowed-origins', env: 'SLUICE_ALLOWED_ORIGINS', kind: 'list', help: 'comma-separated browser origins allowed (empty = any)' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', env: 'SLUICE_SHUTDOWN_TIMEOUT_MS', kind: 'int', help: 'graceful shutdown deadline' },
  { key: 'engine', flag: 'engine', env: 'SLUICE_ENGINE', kind: 'enum', choices: ['memory', 'redis'], help: 'where channels live: memory (this process) or redis (shared by relay nodes)' },
  { key: 'redisUrl', flag: 'redis-url', env: 'SLUICE_REDIS_URL', kind: 'string', help: 'Redis server for --engine redis (redis:// or rediss://)' },
  { key: 'redisPrefix', flag: 'redis-prefix', env: 'SLUICE_REDIS_PREFIX', kind: 'string', help: 'namespace of every Redis key and pub/sub channel (one per cluster)' },
  { key: 'redisLeaseMs', flag: 'redis-lease-ms', env: 'SLUICE_REDIS_LEASE_MS', kind: 'int', help: "a channel writer's lease; a node silent this long loses its sources" },
  { key: 'consoleMaxFeeds', flag: 'console-max-feeds', env: 'SLUICE_CONSOLE_MAX_FEEDS', kind: 'int', help: 'open /api/feed connections (operations console) before 4509' },
  { key: 'consoleFeedMaxBytes', flag: 'console-feed-max-bytes', env: 'SLUICE_CONSOLE_FEED_MAX_BYTES', kind: 'int', help: 'bytes a /api/feed client may have unread before ticks are skipped (closed with 4413 after 10 s)' },
  { key: 'metricsChannels', flag: 'metrics-channels', env: 'SLUICE_METRICS_CHANNELS', kind: 'int', help: 'channels with per-channel Prometheus series (cardinality cap; 0 = none)' },
  { key: 'metricsChannelPatterns', flag: 'metrics-channel-patterns', env: 'SLUICE_METRICS_CHANNEL_PATTERNS', kind: 'list', help: 'comma-separated channel patterns (* globs) eligible for per-channel series (empty = any)' },
  { key: 'workers', flag: 'workers', env: 'SLUICE_WORKERS', kind: 'int', help: 'relay processes on this host sharing the port (more than 1 needs --engine redis); a worker that dies is restarted' },
  { key: 'logLevel', flag: 'log-level', env: 'SLUICE_LOG_LEVEL', kind: 'enum', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], help: 'log level' },
];

/** Thrown for an invalid option value, naming where it came from. */
export class ConfigError extends Error {
  readonly code = 'config/invalid';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function parseValue(spec: OptionSpec, raw: unknown, origin: string): unknown {
  const where = `${origin} ${spec.flag}`;
  switch (spec.kind) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).replace(/_/g, ''));
      if (!Number.isSafeInteger(n) || n < 0) throw new ConfigError(`${where}: expected a non-negative integer, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'string':
      if (typeof raw !== 'string') throw new ConfigError(`${where}: expected a string`);
      return raw;
    case 'list':
      if (Array.isArray(raw)) return raw.map(String);
      return String(raw)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    case 'enum': {
      const s = String(raw);
      if (!spec.choices!.includes(s)) throw new ConfigError(`${where}: expected one of ${spec.choices!.join(', ')}, got ${JSON.stringify(raw)}`);
      return s;
    }
  }
}

/**
 * Checks a complete configuration (e.g. options given to startRelay) exactly like the CLI checks
 * flags; throws ConfigError naming the bad option.
 */
export function validateConfig(config: RelayConfig): RelayConfig {
  const out = { ...config } as unknown as Record<string, unknown>;
  for (const spec of OPTION_SPECS) {
    const v = out[spec.key];
    if (v === undefined) continue;
    if (spec.kind === 'list' && !Array.isArray(v)) throw new ConfigError(`option ${spec.key}: expected an array of strings`);
    out[spec.key] = parseValue(spec, v, 'option');
  }
  for (const key of Object.keys(out)) {
    if (!(key in DEFAULT_CONFIG)) throw new ConfigError(`unknown option "${key}"`);
  }
  const c = out as unknown as RelayConfig;
  // A joiner gets the whole state in one frame: the state bound never exceeds the frame bound.
  c.maxStateBytes = Math.min(c.maxStateBytes, c.maxPayload);
  if (c.auth === 'jwt' && !c.jwtSecret && !c.jwtPublicKey) throw new ConfigError('auth jwt needs jwtSecret or jwtPublicKey');
  checkWorkers(c);
  return c;
}

/**
 * Resolves the effective configuration. `flags` holds values given on the command line (keyed by
 * config key), `env` the environment, `file` an optional JSON config file path.
 */
export function resolveConfig(options: { file?: string | undefined; env?: NodeJS.ProcessEnv; flags?: Partial<Record<keyof RelayConfig, unknown>> } = {}): RelayConfig {
  const config: RelayConfig = { ...DEFAULT_CONFIG };
  const set = (spec: OptionSpec, raw: unknown, origin: string) => {
    (config as unknown as Record<string, unknown>)[spec.key] = parseValue(spec, raw, origin);
  };
  if (options.file !== undefined) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(options.file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config file ${options.file}: ${(e as Error).message}`);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(`config file ${options.file}: expected a JSON object`);
    for (const [k, v] of Object.entries(data)) {
      const spec = OPTION_SPECS.find((s) => s.key === k || s.flag === k);
      if (!spec) throw new ConfigError(`config file ${options.file}: unknown option "${k}"`);
      set(spec, v, 'config file');
    }
  }
  const env = options.env ?? {};
  for (const spec of OPTION_SPECS) {
    const v = env[spec.env];
    if (v !== undefined && v !== '') set(spec, v, `env ${spec.env}:`);
  }
  for (const spec of OPTION_SPECS) {
    const v = options.flags?.[spec.key];
    if (v !== undefined) set(spec, v, 'flag --');
  }
  if (config.jwtPublicKey?.startsWith('@')) config.jwtPublicKey = readFileSync(config.jwtPublicKey.slice(1), 'utf8');
  if (config.auth === 'jwt' && !config.jwtSecret && !config.jwtPublicKey) {
    throw new ConfigError('--auth jwt needs --jwt-secret or --jwt-public-key');
  }
  checkWorkers(config);
  return config;
}

/**
 * Worker processes share channels only through a shared engine, and the port only where the
 * socket layer lets node:cluster (ws) or the kernel (uws: SO_REUSEPORT, a fixed port) share it.
 */
/** Upper bound of `--workers`. */
export const MAX_WORKERS = 256;

function checkWorkers(c: RelayConfig): void {
  if (c.workers < 1) throw new ConfigError('--workers: expected at least 1');
  // More processes than this on one host is a typo (1e9 would be a fork bomb), not a deployment.
  if (c.workers > MAX_WORKERS) throw new ConfigError(`--workers: at most ${MAX_WORKERS} (one per core is the point)`);
  if (c.workers === 1) return;
  if (c.engine !== 'redis') {
    throw new ConfigError(`--workers ${c.workers} needs --engine redis: worker processes share channels through Redis (the in-memory engine would give each worker its own channels)`);
  }
  if (c.transport === 'uws' && c.port === 0) {
    throw new ConfigError('--workers with --transport uws needs a fixed --port: uWS workers share it through the kernel (SO_REUSEPORT), and port 0 would give each worker its own');
  }
}
