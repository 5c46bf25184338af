/**
 * `select` filters: a receiver names the top-level fields and dotted nested paths it wants
 * (`count`, `player.pos`). The relay projects states and diffs onto the filter so unselected
 * fields never reach that receiver's wire; a diff that touches nothing selected projects to `{}`
 * and is not sent.
 *
 * Two ways to project a change:
 * - {@link projectChange}(before, after, tree) needs both states and is exact: a receiver that
 *   applies it always holds `projectState(source, tree)`. The relay uses it for live receivers.
 * - {@link projectDiff}(diff, tree) needs only the diff. Known limit: when a nested diff deletes
 *   the last selected leaf under a parent (`{player:{pos:null}}` with select `player.pos`), the
 *   receiver keeps an empty `player: {}` where a fresh projection omits `player`. Every other
 *   case matches `projectState(applyPatch(state, diff))` exactly.
 */
import { ProtocolError } from './errors.js';
import { diffStates, jsonEqual } from './merge-patch.js';
import { hasOwn, setOwn } from './own.js';
import { isJsonObject } from './utf8.js';
import type { JsonObject } from './utf8.js';

/** A compiled filter: `true` selects a whole subtree, a nested map selects some of its children. */
export type SelectTree = Map<string, SelectTree | true>;

/** Limits on a select list, so a hostile filter cannot cost the relay much. */
export const MAX_SELECT_PATHS = 256;
export const MAX_SELECT_PATH_LENGTH = 256;
export const MAX_SELECT_DEPTH = 16;

/** The path that means "everything": a list containing it is no filter at all. */
export const SELECT_ALL = '*';

/**
 * Parses a select list (array of paths, or a comma-separated string as in `?select=a,b.c`).
 * Both forms are validated alike. Returns `null` for "everything": absent, empty, or containing
 * `*`. Otherwise the paths trimmed, de-duplicated and sorted. In the array form a path may
 * contain a comma (a key named `a,b`). Throws ProtocolError for bad paths.
 */
export function parseSelect(input: readonly unknown[] | string | null | undefined): string[] | null {
  if (input === null || input === undefined) return null;
  if (typeof input !== 'string' && !Array.isArray(input)) throw new ProtocolError('bad-payload', 'select must be a list of paths');
  const parts: readonly unknown[] = typeof input === 'string' ? input.split(',') : input;
  if (parts.length > 4 * MAX_SELECT_PATHS) throw new ProtocolError('bad-payload', `select lists at most ${MAX_SELECT_PATHS} paths`);
  const paths: string[] = [];
  let all = false;
  for (const raw of parts) {
    if (typeof raw !== 'string') throw new ProtocolError('bad-payload', 'select paths must be strings');
    const p = raw.trim();
    if (p === SELECT_ALL) all = true;
    else if (p !== '') paths.push(p);
  }
  if (paths.length > MAX_SELECT_PATHS) throw new ProtocolError('bad-payload', `select lists at most ${MAX_SELECT_PATHS} paths`);
  for (const p of paths) {
    if (p.length > MAX_SELECT_PATH_LENGTH) throw new ProtocolError('bad-payload', `select path longer than ${MAX_SELECT_PATH_LENGTH}`);
    const segs = p.split('.');
    if (segs.length > MAX_SELECT_DEPTH) throw new ProtocolError('bad-payload', `select path deeper than ${MAX_SELECT_DEPTH}`);
    if (segs.some((s) => s === '')) throw new ProtocolError('bad-payload', `select path "${p}" has an empty segment`);
  }
  if (all || paths.length === 0) return null;
  return [...new Set(paths)].sort();
}

/** Compiles select paths to a tree; a shorter path wins over longer ones under it. */
export function compileSelect(paths: readonly string[]): SelectTree {
  const root: SelectTree = new Map();
  for (const path of paths) {
    const segs = path.split('.');
    let node = root;
    for (let i = 0; i < segs.length; i++) {
      const seg = segs[i]!;
      const cur = node.get(seg);
      if (cur === true) break;
      if (i === segs.length - 1) {
        node.set(seg, true);
        break;
      }
      if (cur === undefined) {
        const next: SelectTree = new Map();
        node.set(seg, next);
        node = next;
      } else node = cur;
    }
  }
  return root;
}

/**
 * A stable string key for a select list, so receivers with equal filters share encoded bytes.
 * Unambiguous: `''` for no filter (no list produces it), otherwise the JSON text of the sorted,
 * de-duplicated paths — so the single path `a,b` and the two paths `a` and `b` differ.
 */
export function selectKey(paths: readonly string[] | null): string {
  if (paths === null) return '';
  return JSON.stringify([...new Set(paths)].sort());
}

/** Projects a full state onto a filter. Parents with no selected leaf are omitted. */
export function projectState(state: JsonObject, tree: SelectTree): JsonObject {
  const out: JsonObject = {};
  for (const [key, sel] of tree) {
    if (!hasOwn(state, key)) continue;
    const v = state[key]!;
    if (sel === true) setOwn(out, key, v);
    else if (isJsonObject(v)) {
      const sub = projectState(v, sel);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    }
  }
  return out;
}

/** True when `projectState(v, tree)` would keep something of `v` (no allocation). */
function projectsSomething(v: JsonObject, tree: SelectTree): boolean {
  for (const [key, sel] of tree) {
    if (!hasOwn(v, key)) continue;
    if (sel === true) return true;
    const c = v[key]!;
    if (isJsonObject(c) && projectsSomething(c, sel)) return true;
  }
  return false;
}

/**
 * The minimal merge patch that takes `projectState(before, tree)` to `projectState(after, tree)`.
 * Exact in every case (a parent whose last selected leaf goes away is deleted), so a receiver
 * that applies it always holds the projection of the source's state. Cheap when `after` shares
 * structure with `before` (as `applyPatch` and `mergeInto`-free updates leave it): identical
 * subtrees are skipped by identity, and only the selected keys are visited. Returns `{}` when
 * nothing selected changed (then nothing needs sending).
 *
 * `before` and `after` must be distinct immutable snapshots (as `applyPatch`/`applyDiff` return):
 * a state mutated in place with `mergeInto` is the same object before and after, which reads as
 * "nothing changed". The result may share subtrees with `after`; treat it as immutable.
 */
export function projectChange(before: JsonObject, after: JsonObject, tree: SelectTree): JsonObject {
  const out: JsonObject = {};
  if (before === after) return out;
  for (const [key, sel] of tree) {
    const bv = hasOwn(before, key) ? before[key] : undefined;
    const av = hasOwn(after, key) ? after[key] : undefined;
    if (bv === av) continue;
    if (sel === true) {
      if (av === undefined) setOwn(out, key, null);
      else if (bv !== undefined && isJsonObject(av) && isJsonObject(bv)) {
        const sub = diffStates(bv, av);
        if (Object.keys(sub).length > 0) setOwn(out, key, sub);
      } else if (!jsonEqual(bv, av)) setOwn(out, key, av);
      continue;
    }
    const bo = bv !== undefined && isJsonObject(bv) ? bv : EMPTY;
    const ao = av !== undefined && isJsonObject(av) ? av : EMPTY;
    const sub = projectChange(bo, ao, sel);
    if (Object.keys(sub).length === 0) continue;
    // Something selected changed below `key`; if nothing selected is left, the parent goes too.
    setOwn(out, key, ao === EMPTY || !projectsSomething(ao, sel) ? null : sub);
  }
  return out;
}
const EMPTY: JsonObject = Object.freeze({}) as JsonObject;

/**
 * Projects a merge-patch diff onto a filter. Returns `{}` when the diff touches nothing
 * selected. A selected subtree whose parent the diff replaces by a non-object (or deletes)
 * projects to `null`, so the receiver drops it too. See the module note for its one limit;
 * prefer {@link projectChange} when both states are at hand.
 */
export function projectDiff(diff: JsonObject, tree: SelectTree): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(diff)) {
    const sel = tree.get(key);
    if (sel === undefined) continue;
    const v = diff[key]!;
    if (sel === true) setOwn(out, key, v);
    else if (isJsonObject(v)) {
      const sub = projectDiff(v, sel);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    } else setOwn(out, key, null);
  }
  return out;
}

/** True when `path` (dotted) is selected by `tree` (or when there is no filter). */
export function isSelected(tree: SelectTree | null, path: string): boolean {
  if (tree === null) return true;
  let node: SelectTree = tree;
  for (const seg of path.split('.')) {
    const sel = node.get(seg);
    if (sel === undefined) return false;
    if (sel === true) return true;
    node = sel;
  }
  return true;
}
