/**
 * Every code on the wire: frame types, flags and input types. The numeric values are the
 * protocol; docs/protocol.md lists the same table and golden tests pin them.
 */

/** Frame type (header byte 0) when FLAG_INPUT is clear. */
export const FrameType = {
  Pixels: 0x01,
  CompressedPixels: 0x02,
  DeltaPixels: 0x03,
  AudioPcm: 0x10,
  AudioCompressed: 0x11,
  Haptic: 0x20,
  SignalSync: 0x30,
  SignalDiff: 0x31,
  SchemaAnnounce: 0x32,
  SubscribeFilter: 0x33,
  NeuralFrame: 0x40,
  NeuralAudio: 0x41,
  // Control frames Sluice adds (0xA0–0xAF).
  Hello: 0xa0,
  Welcome: 0xa1,
  Error: 0xa2,
  Resume: 0xa3,
  RpcCall: 0xa4,
  RpcResult: 0xa5,
  LogRecord: 0xa6,
  SourceStatus: 0xa7,
  HistoryTruncated: 0xa8,
  /** Several complete messages in one (relay → receivers that asked with `?batch=1`). */
  Batch: 0xa9,
  /** Relay → source: every log record of this source's producer with seq <= the u64 payload is committed. */
  LogAck: 0xaa,
  Keyframe: 0xf0,
  Pong: 0xfd,
  Ping: 0xfe,
  StreamEnd: 0xff,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Header byte 1. */
export const Flag = {
  /** Receiver → source input; byte 0 is then an {@link InputType}. */
  Input: 0x01,
  /** Full state / full picture: no previous frame needed. */
  Keyframe: 0x02,
  /** Payload is compressed by an application-level codec (opaque to the relay). */
  Compressed: 0x04,
  /** Payload starts with a u32 LE connection id: who sent it (relay → source) or who gets it (source → relay). */
  Sender: 0x08,
} as const;
export type Flag = (typeof Flag)[keyof typeof Flag];

/** All flag bits that have a meaning; others must be zero. */
export const KNOWN_FLAGS = Flag.Input | Flag.Keyframe | Flag.Compressed | Flag.Sender;

/** Input type (header byte 0) when FLAG_INPUT is set. */
export const InputType = {
  Pointer: 0x01,
  Key: 0x02,
  Scroll: 0x03,
  Touch: 0x04,
  GamepadAxis: 0x10,
  GamepadButton: 0x11,
  Text: 0x20,
  Action: 0x21,
  Resize: 0x60,
  Midi: 0x70,
  Bci: 0x80,
} as const;
export type InputType = (typeof InputType)[keyof typeof InputType];

const frameNames = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));
const inputNames = new Map<number, string>(Object.entries(InputType).map(([k, v]) => [v, k]));

/** True for a frame type this protocol version defines. */
export function isFrameType(code: number): code is FrameType {
  return frameNames.has(code);
}

/** True for an input type this protocol version defines. */
export function isInputType(code: number): code is InputType {
  return inputNames.has(code);
}

/** Human-readable name of a frame type, for logs and errors. */
export function frameTypeName(code: number): string {
  return frameNames.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** Human-readable name of an input type. */
export function inputTypeName(code: number): string {
  return inputNames.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}
