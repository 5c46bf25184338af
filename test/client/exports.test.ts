// sluice/client exports a curated API (protocol internals live in sluice/protocol) and one error
// hierarchy: every SDK error extends SluiceError and carries a machine-readable code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as client from '../../src/client/index.js';
import { SluiceError } from '../../src/protocol/errors.js';

describe('client exports', () => {
  it('exports the SDK, not protocol internals or the internal Connection', () => {
    const names = Object.keys(client).sort();
    assert.ok(names.length <= 30, `${names.length} names: ${names.join(', ')}`);
    for (const internal of ['Connection', 'encodeMessage', 'decodeMessage', 'FrameType', 'CloseCode', 'splitBatch', 'backoffDelay', 'changedPaths']) {
      assert.ok(!names.includes(internal), `${internal} is exported`);
    }
    for (const api of ['source', 'subscribe', 'compose', 'inputs', 'Source', 'StreamView', 'Derived', 'SluiceError']) assert.ok(names.includes(api), api);
  });

  it('every exported error class extends SluiceError and has a code', () => {
    const errors = Object.entries(client).filter(([n]) => n.endsWith('Error') && n !== 'SluiceError');
    assert.ok(errors.length >= 10);
    for (const [name, Ctor] of errors) {
      assert.ok((Ctor as { prototype: unknown }).prototype instanceof SluiceError, `${name} extends SluiceError`);
      assert.ok((Ctor as { prototype: unknown }).prototype instanceof client.ClientError || name === 'ClientError', `${name} extends ClientError`);
    }
    const e = new client.RpcError('no-source', 'x');
    assert.equal(e.code, 'rpc/no-source');
    assert.equal(new client.ConnectionRefusedError(4404, 'gone').code, 'client/refused');
  });
});
