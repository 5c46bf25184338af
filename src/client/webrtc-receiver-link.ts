/**
 * The receiver side of the WebRTC media link: asks the channel's source (through `/signal`) for a
 * peer connection, emits the frames that arrive on it, and sends inputs back on it. Whenever the
 * link is not healthy — not negotiated in time, refused, closed, or silent for `stallMs` —
 * `transport` is `'websocket'` and the caller uses the relay's stream, which it keeps receiving
 * all along (docs/webrtc.md).
 */
import { encodeMessage, decodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import type { InputEvent } from '../protocol/inputs.js';
import { HEADER_SIZE } from '../protocol/header.js';
import { Emitter } from './emitter.js';
import { Reassembler, chunkFrame } from './webrtc-chunks.js';
import { AUDIO_LABEL, DEFAULT_MAX_FRAME_BYTES, MEDIA_LABEL, chunkLimit, findPeerConnection, messageBytes, trySend, wellFramed } from './webrtc-common.js';
import type { MediaLinkOptions } from './webrtc-common.js';
import { SignalingClient, newPeerId, sdpFingerprint } from './webrtc-signaling.js';
import type { SignalMessage } from './webrtc-signaling.js';

export interface ReceiverMediaLinkOptions extends MediaLinkOptions {
  /** Give up an attempt (fall back, maybe retry) when the link is not open after this long. Default 8000 ms. */
  timeoutMs?: number;
  /** No message (frame or heartbeat) for this long: `stalled`, transport `websocket`. Default 2000 ms. */
  stallMs?: number;
  /** After a failed attempt, try again after this long; 0: never. Default 5000 ms. */
  retryMs?: number;
  /**
   * The source's certificate fingerprint (`SourceMediaLinks.fingerprint`), learned through the
   * relay. When set, offers whose SDP carries another fingerprint are ignored, so another
   * signaling peer cannot pose as the source.
   */
  sourceFingerprint?: string | (() => string | undefined);
  /** Largest frame reassembled. Default 16 MiB + header. */
  maxFrameBytes?: number;
  /** Inputs are refused (`sendInput` false) while this much is unsent on the channel. Default 256 KiB. */
  maxBufferedBytes?: number;
}

/**
 * - `negotiating`: asking the source, waiting for its offer and the channel to open
 * - `open`: frames arrive over WebRTC (transport `webrtc`)
 * - `stalled`: the channel is open but silent past `stallMs` (transport `websocket`)
 * - `failed`: this attempt ended (timeout, refused, closed); a retry may follow
 * - `unsupported`: no RTCPeerConnection here; final
 * - `closed`: `close()` was called; final
 */
export type ReceiverLinkState = 'negotiating' | 'open' | 'stalled' | 'failed' | 'unsupported' | 'closed';
export type MediaTransport = 'webrtc' | 'websocket';

export type ReceiverMediaLinkEvents = {
  /** A complete protocol frame from the source (header length checked; payload not decoded). */
  frame: [frame: Uint8Array];
  /** The same frame decoded (only decoded when someone listens; undecodable frames are dropped). */
  message: [message: Message, frame: Uint8Array];
  state: [state: ReceiverLinkState, reason: string];
  /** `transport` changed. */
  transport: [transport: MediaTransport];
};

/** Signaling close codes after which retrying cannot help (auth refused, bad request). */
const FINAL_CODES = new Set([4400, 4401, 4403, 4404]);
const MAX_PENDING_CANDIDATES = 32;

/**
 * A receiver's WebRTC link to the channel's source.
 *
 * @example
 * ```ts
 * const link = new ReceiverMediaLink({ signalUrl: signalUrlFor(streamUrl) });
 * link.on('frame', (frame) => webrtcDecoder.push(frame)); // its own decoder: never mix delta chains
 * view.on('frame', (frame) => relayDecoder.push(frame));
 * const draw = () => (link.transport === 'webrtc' && webrtcDecoder.hasPicture ? webrtcDecoder : relayDecoder);
 * if (!link.sendInput(inputFrame)) relaySocket.send(inputFrame);
 * ```
 */
export class ReceiverMediaLink extends Emitter<ReceiverMediaLinkEvents> {
  readonly stats = { frames: 0, bytes: 0, dropped: 0, attempts: 0, ignoredSignals: 0 };
  private currentState: ReceiverLinkState = 'failed';
  private reasonText = '';
  /** Signaling id of the current attempt (fresh per attempt, so the source never confuses two). */
  private id = newPeerId('receiver');
  private signaling: SignalingClient | undefined;
  private finalSignalingCode: number | undefined;
  private pc: RTCPeerConnection | undefined;
  private media: RTCDataChannel | undefined;
  private audio: RTCDataChannel | undefined;
  private sourceId: string | undefined;
  private remoteSet = false;
  private pending: RTCIceCandidateInit[] = [];
  private spare: { from: string; sdp: string; candidates: RTCIceCandidateInit[] } | undefined;
  private reassembler: Reassembler;
  private lastMessageAt = 0;
  private attemptTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stallTimer: ReturnType<typeof setInterval> | undefined;
  private readonly PC: typeof RTCPeerConnection | undefined;

  constructor(private readonly options: ReceiverMediaLinkOptions) {
    super();
    this.reassembler = new Reassembler(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.PC = findPeerConnection(options.RTCPeerConnection);
    if (!this.PC) {
      this.currentState = 'unsupported';
      this.reasonText = 'no RTCPeerConnection in this environment';
      return;
    }
    this.attempt();
  }

  get state(): ReceiverLinkState {
    return this.currentState;
  }

  /** Why the link is in its current state (empty while open). */
  get reason(): string {
    return this.reasonText;
  }

  /** `webrtc` while frames flow over the data channel; otherwise `websocket` (use the relay's). */
  get transport(): MediaTransport {
    return this.currentState === 'open' ? 'webrtc' : 'websocket';
  }

  /**
   * Sends an input frame (as produced by `encodeMessage({ kind: 'input', … })`) to the source over
   * the data channel. False when the link is not open or is backed up: send it through the relay.
   */
  sendInput(frame: Uint8Array): boolean {
    const media = this.media;
    const pc = this.pc;
    if (this.currentState !== 'open' || !media || !pc) return false;
    if (media.bufferedAmount > (this.options.maxBufferedBytes ?? 256 * 1024)) return false;
    for (const part of chunkFrame(frame, chunkLimit(pc))) if (!trySend(media, part)) return false;
    return true;
  }

  /** {@link sendInput} for an input event (encoded here). */
  sendInputEvent(event: InputEvent): boolean {
    if (this.currentState !== 'open') return false;
    return this.sendInput(encodeMessage({ kind: 'input', event }));
  }

  /** Ends the link for good (the caller keeps using the relay). */
  close(): void {
    if (this.currentState === 'closed' || this.currentState === 'unsupported') return;
    clearTimeout(this.retryTimer);
    this.teardown('receiver closed');
    this.closeSignaling();
    this.setState('closed', 'closed');
  }

  // ------------------------------------------------------------------ negotiation

  private attempt(): void {
    if (this.currentState === 'closed') return;
    this.stats.attempts++;
    this.id = newPeerId('receiver');
    this.sourceId = undefined;
    this.remoteSet = false;
    this.pending = [];
    this.spare = undefined;
    this.reassembler.reset();
    this.setState('negotiating', '');
    this.attemptTimer = setTimeout(() => this.fail('negotiation timed out'), this.options.timeoutMs ?? 8000);
    // The signaling socket is per attempt too: the id it filters on is the attempt's.
    this.closeSignaling();
    const signaling = new SignalingClient(this.options.signalUrl, this.id, 'receiver', this.options.WebSocket);
    this.signaling = signaling;
    signaling.on('open', () => signaling.send({ type: 'hello' }));
    signaling.on('message', (m) => this.onSignal(m));
    signaling.on('close', (code, reason) => {
      if (this.signaling !== signaling) return;
      this.signaling = undefined;
      if (FINAL_CODES.has(code)) this.finalSignalingCode = code;
      // Once open, the link no longer needs signaling; before that, the attempt cannot finish.
      if (this.currentState === 'negotiating') this.fail(`signaling closed (${code}${reason ? ` ${reason}` : ''})`);
    });
  }

  private onSignal(m: SignalMessage): void {
    if (m.role !== 'source' || this.currentState !== 'negotiating') {
      this.stats.ignoredSignals++;
      return;
    }
    switch (m.type) {
      case 'hello':
        // A source that came online after our broadcast hello: ask it directly.
        if (this.sourceId === undefined) this.signaling?.send({ to: m.from, type: 'hello' });
        return;
      case 'offer':
        return this.onOffer(m.from, m.sdp);
      case 'candidate':
        return this.onSignalCandidate(m.from, m.candidate);
      case 'bye':
        if (m.from === this.sourceId || (this.sourceId === undefined && m.reason === 'full')) this.fail(`source said bye: ${m.reason}`);
        return;
      default:
        return;
    }
  }

  private onSignalCandidate(from: string, c: RTCIceCandidateInit): void {
    if (this.spare?.from === from) {
      if (this.spare.candidates.length < MAX_PENDING_CANDIDATES) this.spare.candidates.push(c);
      return;
    }
    if (from !== this.sourceId || !this.pc) return;
    if (this.remoteSet) this.pc.addIceCandidate(c).catch(() => {});
    else if (this.pending.length < MAX_PENDING_CANDIDATES) this.pending.push(c);
  }

  private onOffer(from: string, sdp: string): void {
    if (this.sourceId !== undefined) {
      // While one offer is being applied, keep the latest other one (one slot): if the first was
      // garbage from another signaling peer, the real source's offer is not lost.
      if (!this.remoteSet && from !== this.sourceId) this.spare = { from, sdp, candidates: [] };
      else this.stats.ignoredSignals++;
      return;
    }
    const pinned = typeof this.options.sourceFingerprint === 'function' ? this.options.sourceFingerprint() : this.options.sourceFingerprint;
    if (pinned !== undefined && sdpFingerprint(sdp) !== normalizeFingerprint(pinned)) {
      this.stats.ignoredSignals++;
      return;
    }
    let pc: RTCPeerConnection;
    try {
      pc = new this.PC!({ iceServers: this.options.iceServers ?? [] });
    } catch (e) {
      return this.fail(`cannot create a peer connection: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.sourceId = from;
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && this.pc === pc) this.signaling?.send({ to: from, type: 'candidate', candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (this.pc === pc && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) this.fail(`connection ${pc.connectionState}`);
    };
    pc.ondatachannel = (e) => this.onChannel(pc, e.channel);
    pc.setRemoteDescription({ type: 'offer', sdp })
      .then(() => {
        this.remoteSet = true;
        for (const c of this.pending.splice(0)) pc.addIceCandidate(c).catch(() => {});
        return pc.createAnswer();
      })
      .then((answer) => pc.setLocalDescription(answer))
      .then(() => {
        const local = pc.localDescription?.sdp;
        if (this.pc === pc && local) this.signaling?.send({ to: from, type: 'answer', sdp: local });
      })
      .catch(() => {
        // An offer that does not apply (garbage from another signaling peer, or a race) is
        // dropped and the attempt waits for the next one: its timeout still bounds the wait.
        if (this.pc !== pc) return;
        this.stats.ignoredSignals++;
        this.pc = undefined;
        this.media = undefined;
        this.audio = undefined;
        this.sourceId = undefined;
        this.remoteSet = false;
        this.pending = [];
        pc.close();
        const spare = this.spare;
        this.spare = undefined;
        if (spare && this.currentState === 'negotiating') {
          this.onOffer(spare.from, spare.sdp);
          for (const c of spare.candidates) this.onSignalCandidate(spare.from, c);
        }
      });
  }

  private onChannel(pc: RTCPeerConnection, dc: RTCDataChannel): void {
    if (this.pc !== pc) return;
    dc.binaryType = 'arraybuffer';
    if (dc.label === MEDIA_LABEL && this.media === undefined) {
      this.media = dc;
      const opened = () => {
        if (this.pc !== pc || this.currentState !== 'negotiating') return;
        clearTimeout(this.attemptTimer);
        this.lastMessageAt = Date.now();
        this.setState('open', '');
        const stallMs = this.options.stallMs ?? 2000;
        this.stallTimer = setInterval(() => this.checkStall(stallMs), Math.max(50, stallMs / 4));
      };
      dc.onopen = opened;
      if (dc.readyState === 'open') opened();
      dc.onclose = () => {
        if (this.pc === pc) this.fail('data channel closed');
      };
      dc.onmessage = (ev) => this.onMessage(pc, ev.data, true);
    } else if (dc.label === AUDIO_LABEL && this.audio === undefined) {
      this.audio = dc;
      dc.onmessage = (ev) => this.onMessage(pc, ev.data, false);
    } else {
      // Not ours (or a second one of a kind): closed, not read.
      dc.close();
    }
  }

  private onMessage(pc: RTCPeerConnection, data: unknown, ordered: boolean): void {
    if (this.pc !== pc) return;
    const bytes = messageBytes(data);
    if (!bytes) {
      this.stats.dropped++;
      return;
    }
    this.lastMessageAt = Date.now();
    if (this.currentState === 'stalled') this.setState('open', '');
    let frame: Uint8Array;
    if (ordered) {
      const r = this.reassembler.push(bytes);
      if (r.kind === 'dropped') this.stats.dropped++;
      if (r.kind !== 'frame') return;
      frame = r.frame;
    } else {
      // The lossy channel carries whole frames only: a chunk there could never be reassembled.
      if (bytes[0] !== 0x00) {
        this.stats.dropped++;
        return;
      }
      frame = bytes.slice(1);
    }
    if (!wellFramed(frame)) {
      this.stats.dropped++;
      return;
    }
    this.stats.frames++;
    this.stats.bytes += frame.length;
    this.emit('frame', frame);
    if (this.listenerCount('message') > 0) {
      let m: Message;
      try {
        const max = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
        m = decodeMessage(frame, { maxPayload: max - HEADER_SIZE });
      } catch {
        this.stats.dropped++;
        return;
      }
      this.emit('message', m, frame);
    }
  }

  private checkStall(stallMs: number): void {
    if (this.currentState === 'open' && Date.now() - this.lastMessageAt > stallMs) this.setState('stalled', `no data for ${stallMs} ms`);
  }

  // ------------------------------------------------------------------ failure and state

  private fail(reason: string): void {
    if (this.currentState === 'closed' || this.currentState === 'failed') return;
    this.teardown(reason);
    this.closeSignaling();
    this.setState('failed', reason);
    const retryMs = this.options.retryMs ?? 5000;
    if (retryMs > 0 && this.finalSignalingCode === undefined) this.retryTimer = setTimeout(() => this.attempt(), retryMs);
  }

  private teardown(reason: string): void {
    clearTimeout(this.attemptTimer);
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    const pc = this.pc;
    this.pc = undefined;
    this.media = undefined;
    this.audio = undefined;
    if (this.sourceId !== undefined) this.signaling?.send({ to: this.sourceId, type: 'bye', reason });
    try {
      pc?.close();
    } catch {
      // already closed
    }
  }

  private closeSignaling(): void {
    // Cleared first: closing emits 'close' synchronously, which must not count as a failure.
    const s = this.signaling;
    this.signaling = undefined;
    s?.close();
  }

  private setState(state: ReceiverLinkState, reason: string): void {
    if (state === this.currentState) return;
    const before = this.transport;
    this.currentState = state;
    this.reasonText = reason;
    this.emit('state', state, reason);
    if (this.transport !== before) this.emit('transport', this.transport);
  }
}

function normalizeFingerprint(fp: string): string {
  const [alg, value] = fp.trim().split(/\s+/);
  return `${(alg ?? '').toLowerCase()} ${(value ?? '').toUpperCase()}`;
}
