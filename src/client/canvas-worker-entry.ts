/**
 * Entry of the encoder Worker, bundled by scripts/build.mjs into dist/browser/sluice-worker.js
 * and served by the relay at /sluice-worker.js. Frames are answered in the order they came.
 */
import { CanvasEncoderHost } from './canvas-worker.js';
import type { EncoderRequest } from './canvas-worker.js';

const host = new CanvasEncoderHost();
let queue: Promise<void> = Promise.resolve();
const scope = globalThis as unknown as { onmessage: ((ev: MessageEvent<EncoderRequest>) => void) | null; postMessage(m: unknown, transfer: Transferable[]): void };

scope.onmessage = (ev) => {
  const req = ev.data;
  queue = queue.then(async () => {
    const reply = await host.handle(req);
    if (!reply) return;
    scope.postMessage(reply, reply.type === 'encoded' ? [reply.frame.buffer] : []);
  });
};
