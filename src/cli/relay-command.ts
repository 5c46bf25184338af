/** `sluice relay`: runs the relay until SIGTERM/SIGINT (a second signal exits at once). */
import type { Command } from 'commander';
import { DEFAULT_CONFIG, OPTION_SPECS, resolveConfig } from '../relay/config.js';
import type { RelayConfig } from '../relay/config.js';
import { createEngine } from '../relay/engines/index.js';
import { createLogger } from '../relay/logger.js';
import { startRelay } from '../relay/server.js';
import { relayHttpRoutes } from '../relay/static-routes.js';
import { isWorker, runPrimary, serveAsWorker } from './relay-workers.js';

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

function formatDefault(v: unknown): string {
  if (v === undefined) return 'none';
  if (Array.isArray(v)) return v.length ? v.join(',') : 'any';
  return String(v);
}

export function addRelayCommand(program: Command): void {
  const cmd = program
    .command('relay')
    .description('run a relay (in-memory engine by default; --engine redis to share channels among relay nodes)')
    .option('-c, --config <file>', 'JSON config file (keys as below, camelCase or --flag names)');
  for (const spec of OPTION_SPECS) {
    const choices = spec.choices ? ` [${spec.choices.join('|')}]` : '';
    cmd.option(`--${spec.flag} <value>`, `${spec.help}${choices} (env ${spec.env}; default ${formatDefault(DEFAULT_CONFIG[spec.key])})`);
  }
  cmd.addHelpText(
    'after',
    `
Precedence: defaults < config file < SLUICE_* environment < flags.

Examples:
  $ sluice relay                                  # ws://0.0.0.0:9100
  $ SLUICE_PORT=9200 sluice relay --log-level warn
  $ sluice relay --auth jwt --jwt-secret "$SECRET" --allowed-origins https://app.example

Endpoints: /source/{ch} /peer/{ch} /stream/{ch} /signal/{ch} (WebSocket),
           /healthz /readyz /api/stats /metrics (HTTP)`,
  );
  cmd.action(async (opts: Record<string, unknown>) => {
    const flags: Partial<Record<keyof RelayConfig, unknown>> = {};
    for (const spec of OPTION_SPECS) {
      const v = opts[camel(spec.flag)];
      if (v !== undefined) flags[spec.key] = v;
    }
    const config = resolveConfig({ file: opts.config as string | undefined, env: process.env, flags });
    const worker = config.workers > 1 && isWorker();
    if (config.workers > 1 && !worker) return runPrimary({ workers: config.workers, shutdownTimeoutMs: config.shutdownTimeoutMs });
    const { engine: _engine, workers: _workers, ...relayConfig } = config;
    const logger = createLogger(config.logLevel);
    const engine = await createEngine(config, logger);
    const relay = await startRelay({ ...relayConfig, engine, logger, httpRoutes: relayHttpRoutes() });
    const url = relay.url.replace('127.0.0.1', config.host === '0.0.0.0' ? 'localhost' : config.host);
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) {
        process.stderr.write(`sluice relay: second ${why}, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(`sluice relay${worker ? ` worker ${process.env.SLUICE_WORKER ?? ''}` : ''}: ${why}, draining (send again to exit at once)\n`);
      relay.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    if (worker) return serveAsWorker(url, engine.nodeId ?? '', stop);
    process.stderr.write(`sluice relay listening on ${url}\n`);
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
