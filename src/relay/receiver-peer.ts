/** A receiver: its filter, how far behind it is, and where it is in the channel's log. */
import { compileSelect, selectKey } from '../protocol/select.js';
import type { SelectTree } from '../protocol/select.js';
import { Peer } from './peer.js';
import type { StateSnapshot } from './state-cache.js';

export interface ReceiverFilter {
  paths: string[];
  tree: SelectTree;
  /** Receivers with the same key share encoded bytes. */
  key: string;
}

export function makeFilter(paths: string[] | null): ReceiverFilter | null {
  return paths === null ? null : { paths, tree: compileSelect(paths), key: selectKey(paths) };
}

export class ReceiverPeer extends Peer {
  readonly role = 'receiver' as const;
  filter: ReceiverFilter | null = null;
  /** Set while behind on state: the state this receiver last got. */
  behind: StateSnapshot | undefined;
  /** Waiting for a full picture (skipped pixel frames while behind). */
  needPicture = false;
  /** Next log offset this receiver needs. */
  logCursor = 0;
  /** Replaying retained history at its own pace; live records wait until it catches up. */
  logReplay = false;
  /** Called after each flush so the channel can continue a paced log replay. */
  onAfterFlush: (() => void) | undefined;

  get filterKey(): string {
    return this.filter?.key ?? '*';
  }

  protected override afterFlush(): void {
    this.onAfterFlush?.();
  }
}
