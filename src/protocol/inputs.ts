/**
 * Input events: receiver → source frames with FLAG_INPUT set; header byte 0 is the input type.
 * Payload layouts (all little-endian; docs/protocol.md has the same table):
 *
 *   Pointer       0x01  x u16, y u16, buttons u8, phase u8 (0 move, 1 down, 2 up)          6 B
 *   Key           0x02  keyCode u16, modifiers u8, phase u8 (0 down, 1 up), key UTF-8…   ≥ 4 B
 *   Scroll        0x03  dx i16, dy i16, x u16, y u16                                       8 B
 *   Touch         0x04  id u8, x u16, y u16, phase u8 (0 start, 1 move, 2 end, 3 cancel)  6 B
 *   GamepadAxis   0x10  gamepad u8, axis u8, value f32                                     6 B
 *   GamepadButton 0x11  gamepad u8, button u8, pressed u8, reserved u8 (0), value f32     8 B
 *   Text          0x20  UTF-8 text                                                       any
 *   Action        0x21  UTF-8 JSON (any value): app-defined message for the source        ≥ 1 B
 *   Resize        0x60  width u16, height u16, pixelRatio×100 u16                          6 B
 *   Midi          0x70  raw MIDI message bytes                                           ≥ 1 B
 *   Bci           0x80  channels u16, reserved u16 (0), samples f32…                     ≥ 4 B
 *
 * Modifier bits: 0x01 shift, 0x02 ctrl, 0x04 alt, 0x08 meta.
 */
import { ProtocolError } from './errors.js';
import { InputType } from './frame-codes.js';
import { decodeJson, encodeJson, utf8Decode, utf8Encode } from './utf8.js';
import type { JsonValue } from './utf8.js';

export const PointerPhase = { Move: 0, Down: 1, Up: 2 } as const;
export const KeyPhase = { Down: 0, Up: 1 } as const;
export const TouchPhase = { Start: 0, Move: 1, End: 2, Cancel: 3 } as const;
export const Modifier = { Shift: 0x01, Ctrl: 0x02, Alt: 0x04, Meta: 0x08 } as const;

export type InputEvent =
  | { input: 'pointer'; x: number; y: number; buttons: number; phase: number }
  | { input: 'key'; keyCode: number; modifiers: number; phase: number; key: string }
  | { input: 'scroll'; dx: number; dy: number; x: number; y: number }
  | { input: 'touch'; id: number; x: number; y: number; phase: number }
  | { input: 'gamepad-axis'; gamepad: number; axis: number; value: number }
  | { input: 'gamepad-button'; gamepad: number; button: number; pressed: boolean; value: number }
  | { input: 'text'; text: string }
  | { input: 'action'; action: JsonValue }
  | { input: 'resize'; width: number; height: number; pixelRatio: number }
  | { input: 'midi'; data: Uint8Array }
  | { input: 'bci'; channels: number; samples: Float32Array };

export type InputKind = InputEvent['input'];

const CODE: Record<InputKind, number> = {
  pointer: InputType.Pointer,
  key: InputType.Key,
  scroll: InputType.Scroll,
  touch: InputType.Touch,
  'gamepad-axis': InputType.GamepadAxis,
  'gamepad-button': InputType.GamepadButton,
  text: InputType.Text,
  action: InputType.Action,
  resize: InputType.Resize,
  midi: InputType.Midi,
  bci: InputType.Bci,
};

/** Input type code for an event. */
export function inputTypeOf(e: InputEvent): number {
  return CODE[e.input];
}

function fixed(size: number): [Uint8Array, DataView] {
  const b = new Uint8Array(size);
  return [b, new DataView(b.buffer)];
}

/** Encodes an input event's payload (the header is added by the frame layer). */
export function encodeInputPayload(e: InputEvent): Uint8Array {
  switch (e.input) {
    case 'pointer': {
      const [b, v] = fixed(6);
      v.setUint16(0, e.x, true);
      v.setUint16(2, e.y, true);
      v.setUint8(4, e.buttons);
      v.setUint8(5, e.phase);
      return b;
    }
    case 'key': {
      const key = utf8Encode(e.key);
      const [b, v] = fixed(4 + key.length);
      v.setUint16(0, e.keyCode, true);
      v.setUint8(2, e.modifiers);
      v.setUint8(3, e.phase);
      b.set(key, 4);
      return b;
    }
    case 'scroll': {
      const [b, v] = fixed(8);
      v.setInt16(0, e.dx, true);
      v.setInt16(2, e.dy, true);
      v.setUint16(4, e.x, true);
      v.setUint16(6, e.y, true);
      return b;
    }
    case 'touch': {
      const [b, v] = fixed(6);
      v.setUint8(0, e.id);
      v.setUint16(1, e.x, true);
      v.setUint16(3, e.y, true);
      v.setUint8(5, e.phase);
      return b;
    }
    case 'gamepad-axis': {
      const [b, v] = fixed(6);
      v.setUint8(0, e.gamepad);
      v.setUint8(1, e.axis);
      v.setFloat32(2, e.value, true);
      return b;
    }
    case 'gamepad-button': {
      const [b, v] = fixed(8);
      v.setUint8(0, e.gamepad);
      v.setUint8(1, e.button);
      v.setUint8(2, e.pressed ? 1 : 0);
      v.setFloat32(4, e.value, true);
      return b;
    }
    case 'text':
      return utf8Encode(e.text);
    case 'action':
      return encodeJson(e.action);
    case 'resize': {
      const [b, v] = fixed(6);
      v.setUint16(0, e.width, true);
      v.setUint16(2, e.height, true);
      v.setUint16(4, Math.round(e.pixelRatio * 100), true);
      return b;
    }
    case 'midi':
      return e.data.slice();
    case 'bci': {
      const [b, v] = fixed(4 + e.samples.length * 4);
      v.setUint16(0, e.channels, true);
      for (let i = 0; i < e.samples.length; i++) v.setFloat32(4 + i * 4, e.samples[i]!, true);
      return b;
    }
  }
}

function need(p: Uint8Array, size: number, exact: boolean, name: string): DataView {
  if (exact ? p.length !== size : p.length < size) {
    throw new ProtocolError('bad-payload', `${name} input needs ${exact ? '' : 'at least '}${size} bytes, got ${p.length}`);
  }
  return new DataView(p.buffer, p.byteOffset, p.length);
}

/**
 * Decodes an input payload of the given input type. Throws ProtocolError on a bad layout.
 * `maxJsonPayload` bounds an Action's JSON (unbounded when omitted).
 */
export function decodeInputPayload(type: number, p: Uint8Array, maxJsonPayload?: number): InputEvent {
  switch (type) {
    case InputType.Pointer: {
      const v = need(p, 6, true, 'pointer');
      return { input: 'pointer', x: v.getUint16(0, true), y: v.getUint16(2, true), buttons: v.getUint8(4), phase: v.getUint8(5) };
    }
    case InputType.Key: {
      const v = need(p, 4, false, 'key');
      return { input: 'key', keyCode: v.getUint16(0, true), modifiers: v.getUint8(2), phase: v.getUint8(3), key: utf8Decode(p.subarray(4)) };
    }
    case InputType.Scroll: {
      const v = need(p, 8, true, 'scroll');
      return { input: 'scroll', dx: v.getInt16(0, true), dy: v.getInt16(2, true), x: v.getUint16(4, true), y: v.getUint16(6, true) };
    }
    case InputType.Touch: {
      const v = need(p, 6, true, 'touch');
      return { input: 'touch', id: v.getUint8(0), x: v.getUint16(1, true), y: v.getUint16(3, true), phase: v.getUint8(5) };
    }
    case InputType.GamepadAxis: {
      const v = need(p, 6, true, 'gamepad-axis');
      return { input: 'gamepad-axis', gamepad: v.getUint8(0), axis: v.getUint8(1), value: v.getFloat32(2, true) };
    }
    case InputType.GamepadButton: {
      const v = need(p, 8, true, 'gamepad-button');
      return { input: 'gamepad-button', gamepad: v.getUint8(0), button: v.getUint8(1), pressed: v.getUint8(2) !== 0, value: v.getFloat32(4, true) };
    }
    case InputType.Text:
      return { input: 'text', text: utf8Decode(p) };
    case InputType.Action:
      need(p, 1, false, 'action');
      return { input: 'action', action: decodeJson(p, maxJsonPayload) };
    case InputType.Resize: {
      const v = need(p, 6, true, 'resize');
      return { input: 'resize', width: v.getUint16(0, true), height: v.getUint16(2, true), pixelRatio: v.getUint16(4, true) / 100 };
    }
    case InputType.Midi:
      need(p, 1, false, 'midi');
      return { input: 'midi', data: p };
    case InputType.Bci: {
      const v = need(p, 4, false, 'bci');
      if ((p.length - 4) % 4 !== 0) throw new ProtocolError('bad-payload', 'bci samples must be whole f32 values');
      const samples = new Float32Array((p.length - 4) / 4);
      for (let i = 0; i < samples.length; i++) samples[i] = v.getFloat32(4 + i * 4, true);
      return { input: 'bci', channels: v.getUint16(0, true), samples };
    }
    default:
      throw new ProtocolError('unknown-type', `unknown input type 0x${type.toString(16)}`);
  }
}
