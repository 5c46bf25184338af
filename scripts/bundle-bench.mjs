// Bundles the cluster benchmark (bench/cluster/two-nodes.ts), the processes it starts and the
// relay into plain .js files under one folder (default .devbench/), for a bigger machine that has
// Node but not the project's node_modules. Run there with BENCH_PREBUNDLED=1:
//   node scripts/bundle-bench.mjs && (cd .devbench && BENCH_PREBUNDLED=1 node bench/cluster/two-nodes.js)
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, process.argv[2] ?? '.devbench');
const { build } = await import('esbuild');
await build({
  entryPoints: [
    'bench/cluster/two-nodes.ts',
    'bench/cluster/socketio-redis.ts',
    'bench/fanout/servers/socketio.ts',
    'bench/fanout/load.ts',
    'dist/cli/main.js',
  ].map((p) => join(root, p)),
  outbase: root,
  outdir: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies call require(); optional native add-ons stay optional.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  external: ['uWebSockets.js', '@trufflesuite/uws-js-unofficial', 'bufferutil', 'utf-8-validate'],
  logLevel: 'warning',
});
for (const f of ['bin/sluice.js', 'package.json', 'bench/fanout/native/load-generator.c']) {
  mkdirSync(dirname(join(out, f)), { recursive: true });
  copyFileSync(join(root, f), join(out, f));
}
console.log(`bundled into ${out}`);
