/**
 * A view for pages that draw a channel themselves: picture frames (Keyframe, Pixels, DeltaPixels,
 * CompressedPixels) are not decoded here but handed over, as they came, in `media` events — with
 * audio and the other media — so one {@link PictureDecoder} per path turns them into a picture.
 * State, inputs, RPC, reconnects and catch-up are those of a {@link StreamView}.
 */
import type { Message } from '../protocol/message.js';
import type { JsonObject } from '../protocol/utf8.js';
import { isPictureMessage } from './picture-decoder.js';
import { StreamView } from './stream-view.js';
import type { SubscribeOptions } from './stream-view.js';

export class MediaView<T = JsonObject> extends StreamView<T> {
  /** Picture frames received. */
  pictures = 0;

  protected override onFrame(m: Message): void {
    if (isPictureMessage(m)) {
      this.conn.markHealthy();
      this.pictures++;
      this.emit('media', m);
      return;
    }
    super.onFrame(m);
  }
}

/**
 * Subscribes to a channel and hands its picture frames over undecoded (`media` events).
 *
 * @example
 * ```ts
 * const view = subscribeMedia('ws://localhost:9100/stream/board');
 * const picture = new PictureDecoder();
 * view.on('media', (m) => { if (isPictureMessage(m)) void picture.apply(m); });
 * ```
 */
export function subscribeMedia<T = JsonObject>(url: string, options: SubscribeOptions<T> = {}): MediaView<T> {
  return new MediaView<T>(url, options);
}
