/**
 * Input capture for a page that shows a channel's picture on a canvas: pointer, touch, wheel,
 * keyboard, gamepad and resize events become the protocol's input events, with positions in the
 * FRAME's pixel coordinates (whatever CSS scaling or letterboxing the canvas is shown with).
 */
import type { InputEvent } from '../protocol/inputs.js';
import { inputs } from './input-helpers.js';

/** A rectangle in CSS pixels (a DOMRect fits). */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Maps a client (CSS pixel) position over an element showing a `frameW × frameH` picture to the
 * frame pixel under it. `fit: 'contain'` (CSS object-fit: contain, the default) accounts for
 * letterbox bars inside the element; `fill` stretches. `inside` is false over the bars or outside.
 */
export function mapToFrame(clientX: number, clientY: number, box: Box, frameW: number, frameH: number, fit: 'contain' | 'fill' = 'contain'): { x: number; y: number; inside: boolean } {
  if (frameW <= 0 || frameH <= 0 || box.width <= 0 || box.height <= 0) return { x: 0, y: 0, inside: false };
  let sx = box.width / frameW;
  let sy = box.height / frameH;
  let ox = 0;
  let oy = 0;
  if (fit === 'contain') {
    const s = Math.min(sx, sy);
    ox = (box.width - frameW * s) / 2;
    oy = (box.height - frameH * s) / 2;
    sx = sy = s;
  }
  const fx = Math.floor((clientX - box.left - ox) / sx);
  const fy = Math.floor((clientY - box.top - oy) / sy);
  const inside = fx >= 0 && fy >= 0 && fx < frameW && fy < frameH;
  return { x: Math.max(0, Math.min(frameW - 1, fx)), y: Math.max(0, Math.min(frameH - 1, fy)), inside };
}

export interface CaptureOptions {
  /** Where keys are listened for. Default: `window`. `null` turns keyboard capture off. */
  keyboardTarget?: EventTarget | null;
  /** Poll gamepads (navigator.getGamepads). Default true. */
  gamepad?: boolean;
  /** Report the element's size (Resize input) when it changes. Default true. */
  resize?: boolean;
  /** How the picture sits in the element. Default `contain`. */
  fit?: 'contain' | 'fill';
  /** Hover moves (no button pressed) at most this often (ms). Default 16. */
  hoverIntervalMs?: number;
}

const MOD_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', ' ', 'PageUp', 'PageDown', 'Home', 'End']);

/**
 * Starts capturing input over `el`; each event is passed to `send` (e.g. `view.input`). Returns a
 * function that stops it all.
 *
 * @example
 * ```ts
 * const stop = captureInput(canvas, (e) => view.input(e), () => ({ width: pic.width, height: pic.height }));
 * ```
 */
export function captureInput(el: HTMLElement, send: (e: InputEvent) => void, frameSize: () => { width: number; height: number }, options: CaptureOptions = {}): () => void {
  const offs: Array<() => void> = [];
  const listen = <K extends keyof HTMLElementEventMap>(target: EventTarget, type: K | string, fn: (ev: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
    target.addEventListener(type, fn as EventListener, opts);
    offs.push(() => target.removeEventListener(type, fn as EventListener, opts));
  };
  const at = (ev: { clientX: number; clientY: number }) => {
    const f = frameSize();
    return mapToFrame(ev.clientX, ev.clientY, el.getBoundingClientRect(), f.width, f.height, options.fit);
  };
  const hoverEvery = options.hoverIntervalMs ?? 16;
  let lastHover = 0;

  listen<'pointerdown'>(el, 'pointerdown', (ev) => {
    const p = at(ev);
    if (!p.inside) return;
    el.setPointerCapture?.(ev.pointerId);
    el.focus?.({ preventScroll: true });
    ev.preventDefault();
    if (ev.pointerType === 'touch') send(inputs.touch(ev.pointerId, p.x, p.y, 'start'));
    else send(inputs.pointer(p.x, p.y, 'down', ev.buttons & 0xff));
  });
  listen<'pointermove'>(el, 'pointermove', (ev) => {
    const p = at(ev);
    if (ev.pointerType === 'touch') {
      if (ev.buttons !== 0) send(inputs.touch(ev.pointerId, p.x, p.y, 'move'));
      return;
    }
    if (ev.buttons === 0) {
      if (!p.inside) return;
      const now = performance.now();
      if (now - lastHover < hoverEvery) return;
      lastHover = now;
    }
    send(inputs.pointer(p.x, p.y, 'move', ev.buttons & 0xff));
  });
  const up = (phase: 'end' | 'cancel') => (ev: PointerEvent) => {
    const p = at(ev);
    if (ev.pointerType === 'touch') send(inputs.touch(ev.pointerId, p.x, p.y, phase));
    else send(inputs.pointer(p.x, p.y, 'up', ev.buttons & 0xff));
  };
  listen<'pointerup'>(el, 'pointerup', up('end'));
  listen<'pointercancel'>(el, 'pointercancel', up('cancel'));
  listen<'contextmenu'>(el, 'contextmenu', (ev) => ev.preventDefault());
  listen<'wheel'>(
    el,
    'wheel',
    (ev) => {
      const p = at(ev);
      if (!p.inside) return;
      ev.preventDefault();
      const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? el.clientHeight : 1;
      send(inputs.scroll(ev.deltaX * unit, ev.deltaY * unit, p.x, p.y));
    },
    { passive: false },
  );

  const keys = options.keyboardTarget === undefined ? globalThis : options.keyboardTarget;
  if (keys) {
    const key = (phase: 'down' | 'up') => (ev: KeyboardEvent) => {
      const t = ev.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      // Keys that would scroll the page go to the source instead.
      if (MOD_KEYS.has(ev.key)) ev.preventDefault();
      send(inputs.key(ev.key, phase, { shift: ev.shiftKey, ctrl: ev.ctrlKey, alt: ev.altKey, meta: ev.metaKey }, ev.keyCode & 0xffff));
    };
    listen<'keydown'>(keys, 'keydown', key('down'));
    listen<'keyup'>(keys, 'keyup', key('up'));
  }

  if (options.resize !== false && typeof ResizeObserver !== 'undefined') {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = '';
    const ro = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) return; // not shown (yet): no size to report
        const k = `${Math.round(r.width)}x${Math.round(r.height)}@${devicePixelRatio}`;
        if (k === last) return;
        last = k;
        send(inputs.resize(r.width, r.height, devicePixelRatio));
      }, 100);
    });
    ro.observe(el);
    offs.push(() => {
      clearTimeout(timer);
      ro.disconnect();
    });
  }

  if (options.gamepad !== false && typeof navigator !== 'undefined' && typeof navigator.getGamepads === 'function') {
    offs.push(pollGamepads(send));
  }
  return () => {
    for (const off of offs.splice(0)) off();
  };
}

/** Polls connected gamepads (the Gamepad API has no change events) and sends what changed. */
function pollGamepads(send: (e: InputEvent) => void): () => void {
  const seen = new Map<number, { axes: number[]; buttons: number[] }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const poll = () => {
    let any = false;
    for (const pad of navigator.getGamepads()) {
      if (!pad) continue;
      any = true;
      const prev = seen.get(pad.index) ?? { axes: [], buttons: [] };
      pad.axes.forEach((v, i) => {
        // Small jitter around a resting stick is noise, not input.
        const q = Math.abs(v) < 0.05 ? 0 : Math.round(v * 100) / 100;
        if (prev.axes[i] !== q) {
          prev.axes[i] = q;
          send(inputs.gamepadAxis(pad.index, i, q));
        }
      });
      pad.buttons.forEach((b, i) => {
        const q = b.pressed ? Math.max(0.01, Math.round(b.value * 100) / 100) : 0;
        if (prev.buttons[i] !== q) {
          prev.buttons[i] = q;
          send(inputs.gamepadButton(pad.index, i, b.pressed, b.value));
        }
      });
      seen.set(pad.index, prev);
    }
    if (!any && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const start = () => {
    timer ??= setInterval(poll, 16);
  };
  addEventListener('gamepadconnected', start);
  return () => {
    removeEventListener('gamepadconnected', start);
    if (timer !== undefined) clearInterval(timer);
  };
}
