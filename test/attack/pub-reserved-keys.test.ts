/**
 * Attack: `sluice pub CH --set __proto__.x=1` — reserved keys are data (DESIGN.md). parseAssignments
 * walks `out["__proto__"]` (Object.prototype), writes `x` onto Object.prototype in the CLI process
 * and publishes `{}`: the field is silently lost and every object in the process gains `x`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAssignments } from '../../src/cli/pub-command.js';

test('--set with a __proto__ path publishes it as data and pollutes nothing', () => {
  const out = parseAssignments(['__proto__.x=1']);
  const polluted = ({} as Record<string, unknown>).x;
  delete (Object.prototype as Record<string, unknown>).x;
  assert.equal(polluted, undefined, 'Object.prototype.x was set by parseAssignments');
  assert.equal(JSON.stringify(out), '{"__proto__":{"x":1}}');
});
