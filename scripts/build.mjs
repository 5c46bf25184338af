// Build: TypeScript → dist/ (Node), and the isomorphic protocol/client → one browser ES module.
// Runs from `prepare`, so `npm install` leaves a working `sluice` bin and browser bundle.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) process.exit(r.status ?? 1);

const { build } = await import('esbuild');
mkdirSync(join(root, 'dist/browser'), { recursive: true });
const entry = existsSync(join(root, 'src/client/browser-entry.ts'))
  ? join(root, 'src/client/browser-entry.ts')
  : join(root, 'src/protocol/index.ts');
await build({
  entryPoints: [entry],
  outfile: join(root, 'dist/browser/sluice.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: false,
  logLevel: 'warning',
  external: ['ws'],
});

// The canvas encoder Worker (publishCanvas): its own module, served by the relay at /sluice-worker.js
// next to /sluice.js, which starts it with new URL('./sluice-worker.js', import.meta.url).
await build({
  entryPoints: [join(root, 'src/client/canvas-worker-entry.ts')],
  outfile: join(root, 'dist/browser/sluice-worker.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: false,
  logLevel: 'warning',
});
