/** A receiver: its filter, and the per-receiver state each slow-receiver policy keeps for it. */
import { Peer } from './peer.js';
import { LogSlot } from './policies/log-policy.js';
import { PictureSlot } from './policies/picture-policy.js';
import { StateSlot } from './policies/state-policy.js';
import { NO_FILTER_KEY } from './receiver-filter.js';
import type { ReceiverFilter } from './receiver-filter.js';

export class ReceiverPeer extends Peer {
  readonly role = 'receiver' as const;
  filter: ReceiverFilter | null = null;
  /**
   * Not live yet: the relay waits for the receiver's first frame or pong before sending the
   * Welcome and catch-up, so a Hello or Resume sent right after opening is read first.
   */
  pending = false;
  pendingSince = 0;
  /** It answered the relay's first ping (it goes live after a short grace). */
  ponged = false;
  /** Log offset asked for in the URL, a Resume frame or Hello while pending. */
  resumeFrom: number | undefined;
  /** This connection created its channel (the relay knew nothing about it). */
  createdChannel = false;
  /**
   * It asked for no media (Hello `media: false`, e.g. while a WebRTC link brings it the source's
   * pictures): pictures, audio, haptics and neural frames skip it; everything else still flows.
   */
  mediaPaused = false;
  /** Control frames it missed while behind, latest per kind (schema, source status, stream end). */
  pendingControl: Map<string, Uint8Array> | undefined;
  readonly stateSlot = new StateSlot();
  readonly pictureSlot = new PictureSlot();
  readonly logSlot = new LogSlot();
  /** Called after each flush so the channel can continue a paced log replay. */
  onAfterFlush: (() => void) | undefined;

  get filterKey(): string {
    return this.filter?.key ?? NO_FILTER_KEY;
  }

  protected override afterFlush(): void {
    this.onAfterFlush?.();
  }
}
