import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from './backoff.js';

describe('backoff', () => {
  it('is full jitter: uniform in [0, min(max, initial × factor^attempt))', () => {
    assert.equal(backoffDelay(0, {}, () => 0), 0);
    assert.equal(backoffDelay(0, {}, () => 0.999999), 999);
    assert.equal(backoffDelay(1, {}, () => 0.5), 1000);
    assert.equal(backoffDelay(3, {}, () => 0.999999), 7999);
    assert.equal(backoffDelay(10, {}, () => 0.999999), 9999, 'capped at 10 s');
    assert.equal(backoffDelay(2, { initialMs: 100, maxMs: 300, factor: 3 }, () => 0.999999), 299);
    for (let a = 0; a < 20; a++) {
      const d = backoffDelay(a);
      assert.ok(d >= 0 && d < 10_000);
    }
  });
});
