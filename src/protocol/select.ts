/**
 * `select` filters: a receiver names the top-level fields and dotted nested paths it wants
 * (`count`, `player.pos`). The relay projects states and diffs onto the filter so unselected
 * fields never reach that receiver's wire; a diff that touches nothing selected projects to `{}`
 * and is not sent.
 *
 * Known limit of projecting diffs without the full state: when a nested diff deletes the last
 * selected leaf under a parent (`{player:{pos:null}}` with select `player.pos`), the receiver
 * keeps an empty `player: {}` where a fresh projection would omit `player`. Every other case
 * matches `project(apply(state, diff))` exactly.
 */
import { ProtocolError } from './errors.js';
import { hasOwn, setOwn } from './own.js';
import { isJsonObject } from './utf8.js';
import type { JsonObject } from './utf8.js';

/** A compiled filter: `true` selects a whole subtree, a nested map selects some of its children. */
export type SelectTree = Map<string, SelectTree | true>;

/** Limits on a select list, so a hostile filter cannot cost the relay much. */
export const MAX_SELECT_PATHS = 256;
export const MAX_SELECT_PATH_LENGTH = 256;
export const MAX_SELECT_DEPTH = 16;

/**
 * Parses a select list (array of paths, or a comma-separated string as in `?select=a,b.c`).
 * Returns `null` for "everything" (absent or empty list). Throws ProtocolError for bad paths.
 */
export function parseSelect(input: readonly string[] | string | null | undefined): string[] | null {
  if (input === null || input === undefined) return null;
  const parts = typeof input === 'string' ? input.split(',') : [...input];
  const paths = parts.map((p) => (typeof p === 'string' ? p.trim() : p)).filter((p) => p !== '');
  if (paths.length === 0) return null;
  if (paths.length > MAX_SELECT_PATHS) throw new ProtocolError('bad-payload', `select lists at most ${MAX_SELECT_PATHS} paths`);
  for (const p of paths) {
    if (typeof p !== 'string') throw new ProtocolError('bad-payload', 'select paths must be strings');
    if (p.length > MAX_SELECT_PATH_LENGTH) throw new ProtocolError('bad-payload', `select path longer than ${MAX_SELECT_PATH_LENGTH}`);
    const segs = p.split('.');
    if (segs.length > MAX_SELECT_DEPTH) throw new ProtocolError('bad-payload', `select path deeper than ${MAX_SELECT_DEPTH}`);
    if (segs.some((s) => s === '')) throw new ProtocolError('bad-payload', `select path "${p}" has an empty segment`);
  }
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

/** A stable string key for a select list, so receivers with equal filters share encoded bytes. */
export function selectKey(paths: readonly string[] | null): string {
  return paths === null ? '*' : paths.join(',');
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

/**
 * Projects a merge-patch diff onto a filter. Returns `{}` when the diff touches nothing
 * selected. A selected subtree whose parent the diff replaces by a non-object (or deletes)
 * projects to `null`, so the receiver drops it too.
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
