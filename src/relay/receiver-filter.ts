/** A receiver's compiled `select` filter; receivers with equal filters share one group. */
import { compileSelect, selectKey } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';

export interface ReceiverFilter {
  paths: string[];
  tree: SelectTree;
  /** Receivers with the same key share encoded bytes. */
  key: string;
  /** Some path is dotted (`player.pos`): diffs are projected from the states on both sides. */
  nested: boolean;
}

/** Group key of receivers without a filter; no select list encodes to it. */
export const NO_FILTER_KEY = '\u0000all';

export function makeFilter(paths: string[] | null): ReceiverFilter | null {
  return paths === null ? null : { paths, tree: compileSelect(paths), key: selectKey(paths), nested: paths.some((p) => p.includes('.')) };
}

