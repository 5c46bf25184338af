/** Builders for input events, so apps need not remember payload layouts or phase numbers. */
import type { InputEvent } from '../protocol/inputs.js';
import { KeyPhase, Modifier, PointerPhase, TouchPhase } from '../protocol/inputs.js';

const clamp16 = (n: number) => Math.max(0, Math.min(0xffff, Math.round(n)));
const clampI16 = (n: number) => Math.max(-0x8000, Math.min(0x7fff, Math.round(n)));

export const inputs = {
  pointer(x: number, y: number, phase: 'move' | 'down' | 'up' = 'move', buttons = 0): InputEvent {
    return { input: 'pointer', x: clamp16(x), y: clamp16(y), buttons, phase: phase === 'down' ? PointerPhase.Down : phase === 'up' ? PointerPhase.Up : PointerPhase.Move };
  },
  key(key: string, phase: 'down' | 'up' = 'down', mods: { shift?: boolean; ctrl?: boolean; alt?: boolean; meta?: boolean } = {}, keyCode = 0): InputEvent {
    const modifiers = (mods.shift ? Modifier.Shift : 0) | (mods.ctrl ? Modifier.Ctrl : 0) | (mods.alt ? Modifier.Alt : 0) | (mods.meta ? Modifier.Meta : 0);
    return { input: 'key', key, keyCode, modifiers, phase: phase === 'up' ? KeyPhase.Up : KeyPhase.Down };
  },
  scroll(dx: number, dy: number, x = 0, y = 0): InputEvent {
    return { input: 'scroll', dx: clampI16(dx), dy: clampI16(dy), x: clamp16(x), y: clamp16(y) };
  },
  touch(id: number, x: number, y: number, phase: 'start' | 'move' | 'end' | 'cancel'): InputEvent {
    const p = { start: TouchPhase.Start, move: TouchPhase.Move, end: TouchPhase.End, cancel: TouchPhase.Cancel }[phase];
    return { input: 'touch', id: id & 0xff, x: clamp16(x), y: clamp16(y), phase: p };
  },
  gamepadAxis(gamepad: number, axis: number, value: number): InputEvent {
    return { input: 'gamepad-axis', gamepad, axis, value };
  },
  gamepadButton(gamepad: number, button: number, pressed: boolean, value = pressed ? 1 : 0): InputEvent {
    return { input: 'gamepad-button', gamepad, button, pressed, value };
  },
  text(text: string): InputEvent {
    return { input: 'text', text };
  },
  resize(width: number, height: number, pixelRatio = 1): InputEvent {
    return { input: 'resize', width: clamp16(width), height: clamp16(height), pixelRatio };
  },
  midi(bytes: ArrayLike<number>): InputEvent {
    return { input: 'midi', data: Uint8Array.from(bytes) };
  },
};
