import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatStatus, readStatusRecord } from '../../src/process/process-status.js';

describe('status records as a follower reads them', () => {
  it('reads a good record', () => {
    assert.deepEqual(readStatusRecord('{"status":"killed","exitCode":143,"signal":"SIGTERM","pid":9}'), { ok: true, status: 'killed', exitCode: 143, signal: 'SIGTERM', final: true });
    assert.deepEqual(readStatusRecord('{"status":"running","exitCode":null}'), { ok: true, status: 'running', exitCode: null, final: false });
  });

  it('explains what is wrong with a bad one', () => {
    for (const [text, why] of [
      ['null', /not a JSON object: null/],
      ['[1]', /not a JSON object/],
      ['7', /not a JSON object/],
      ['{bad', /not JSON/],
      ['', /not JSON: \(empty\)/],
      ['{"status":1}', /no "status" string/],
    ] as const) {
      const r = readStatusRecord(text);
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.problem, why);
    }
    const weird = readStatusRecord('{"status":"exited","exitCode":3.5}');
    assert.ok(weird.ok && weird.exitCode === null && weird.final);
    assert.equal(formatStatus({ status: 'exited', exitCode: null }), '[exited]');
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ status: 'exited', exitCode: v }))), (text) => {
        const r = readStatusRecord(text);
        if (r.ok) {
          assert.ok(r.exitCode === null || (Number.isInteger(r.exitCode) && r.exitCode >= 0 && r.exitCode <= 255));
          assert.equal(typeof formatStatus(r), 'string');
        } else assert.ok(r.problem.length > 0 && r.problem.length < 200);
      }),
      { numRuns: 500 },
    );
  });
});
