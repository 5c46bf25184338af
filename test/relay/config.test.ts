import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, DEFAULT_CONFIG, OPTION_SPECS, resolveConfig } from '../../src/relay/config.js';

describe('relay configuration', () => {
  it('applies defaults < file < env < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
    const file = join(dir, 'relay.json');
    writeFileSync(file, JSON.stringify({ port: 1111, maxChannels: 5, 'grace-ms': 777, heartbeatMs: 1 }));
    const c = resolveConfig({ file, env: { SLUICE_PORT: '2222', SLUICE_MAX_CHANNELS: '6' }, flags: { port: '3333' } });
    assert.equal(c.port, 3333, 'flag wins');
    assert.equal(c.maxChannels, 6, 'env beats file');
    assert.equal(c.graceMs, 777, 'file beats default (flag-style key)');
    assert.equal(c.heartbeatMs, 1);
    assert.equal(c.maxReceiversPerChannel, DEFAULT_CONFIG.maxReceiversPerChannel);
    assert.deepEqual(resolveConfig({ env: { SLUICE_ALLOWED_ORIGINS: 'a, b' } }).allowedOrigins, ['a', 'b']);
  });

  it('refuses bad values with a clear error', () => {
    assert.throws(() => resolveConfig({ env: { SLUICE_PORT: 'abc' } }), ConfigError);
    assert.throws(() => resolveConfig({ flags: { sourcePolicy: 'maybe' } }), /one of reject, takeover/);
    assert.throws(() => resolveConfig({ flags: { auth: 'jwt' } }), /jwt-secret/);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
    writeFileSync(join(dir, 'x.json'), '{"nope": 1}');
    assert.throws(() => resolveConfig({ file: join(dir, 'x.json') }), /unknown option "nope"/);
  });

  it('`sluice relay --help` lists every option with its default', () => {
    const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
    const help = execFileSync(process.execPath, [bin, 'relay', '--help'], { encoding: 'utf8' });
    for (const spec of OPTION_SPECS) {
      assert.ok(help.includes(`--${spec.flag}`), `--${spec.flag} missing from help`);
      assert.ok(help.includes(spec.env), `${spec.env} missing from help`);
    }
    assert.match(help, /default 9100/);
  });
});
