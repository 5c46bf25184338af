// Channels named "." and "..": URL parsers resolve them as dot segments, so /api/channels/{name}
// reaches them only when the client sends %2E / %2E%2E as it is (docs/relay.md).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { startTestRelay } from '../support/relay-harness.js';

/** A GET whose path is sent exactly as given (fetch would resolve dot segments). */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console API: dot names', () => {
  it('"." and ".." are reachable as %2E and %2E%2E sent as is; raw dot segments reach nothing else', async (t) => {
    const relay = await startTestRelay();
    t.after(() => relay.close());
    for (const n of ['.', '..']) assert.ok(relay.table.admit(n, 'receiver').ok);
    for (const [path, name] of [['/api/channels/%2E', '.'], ['/api/channels/%2e%2E', '..']] as const) {
      const r = await rawGet(relay.port, path);
      assert.equal(r.status, 200, path);
      assert.equal((JSON.parse(r.body) as { name: string }).name, name);
    }
    for (const path of ['/api/channels/../relay', '/api/channels/%2E%2E/relay', '/api/channels/./..']) {
      const r = await rawGet(relay.port, path);
      assert.equal(r.status, 404, path);
    }
  });
});
