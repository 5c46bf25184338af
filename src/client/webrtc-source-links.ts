/**
 * The source side of the WebRTC media link: one RTCPeerConnection per receiver that asks (up to
 * `maxPeers`), each with an ordered reliable channel for pictures and inputs and an unordered
 * lossy one for audio. `send(frame)` uploads a frame once per open peer; a peer whose channel is
 * behind skips frames, and its next picture is a full one (a delta on a broken chain would draw
 * garbage). State, catch-up and the relay stay as they are: this is an extra path, not a
 * replacement (docs/webrtc.md).
 */
import { decodeMessage } from '../protocol/message.js';
import type { Message } from '../protocol/message.js';
import { DEFAULT_MAX_JSON_PAYLOAD, HEADER_SIZE } from '../protocol/header.js';
import { Emitter } from './emitter.js';
import { HEARTBEAT, Reassembler, chunkFrame } from './webrtc-chunks.js';
import { AUDIO_LABEL, MEDIA_LABEL, chunkLimit, findPeerConnection, frameRoute, messageBytes, trySend } from './webrtc-common.js';
import type { MediaLinkOptions } from './webrtc-common.js';
import { SignalingClient, newPeerId } from './webrtc-signaling.js';
import type { SignalMessage } from './webrtc-signaling.js';

export interface SourceMediaLinksOptions extends MediaLinkOptions {
  /** Most receivers linked at once (each costs one upload of every frame). Default 8. */
  maxPeers?: number;
  /** A peer whose picture channel holds more than this unsent is skipped. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** The same for the audio channel. Default 64 KiB. */
  maxAudioBufferedBytes?: number;
  /**
   * Returns a full picture frame (Keyframe or Pixels) of the picture the frame being sent results
   * in. Called at most once per `send` when a peer needs a keyframe and the frame is a delta; the
   * result goes to those peers instead of the delta. Without it, such a peer gets no delta until
   * the caller sends a full picture (listen to `needs-keyframe`).
   */
  keyframe?: () => Uint8Array | undefined;
  /** A receiver whose link is not open after this long is dropped. Default 10 000 ms. */
  negotiationTimeoutMs?: number;
  /** Heartbeat period on idle links (receivers detect stalls from it). Default 500 ms. */
  heartbeatMs?: number;
  /**
   * A link is closed after this long (the receiver renegotiates through `/signal`, where its token
   * is checked again), so a receiver whose token expired or was revoked keeps a link at most this
   * long. Default 600 000 ms (10 min); 0: no limit.
   */
  maxLinkMs?: number;
  /** After the `/signal` socket drops, reopen it after this long. Default 2000 ms. */
  signalRetryMs?: number;
  /** Input bytes accepted per receiver per second over its channel; more is dropped. Default 256 KiB. */
  maxInputBytesPerSecond?: number;
}

export type SourcePeerState = 'negotiating' | 'open' | 'closed';

export type SourceMediaLinksEvents = {
  /**
   * An input frame a receiver sent over its data channel, already checked to be a well-formed
   * protocol input (`message.kind === 'input'`). Treat it like an input from the relay.
   */
  input: [frame: Uint8Array, peerId: string, message: Message & { kind: 'input' }];
  /**
   * This peer's next picture must be a full one (it just opened, or it skipped a frame); repeated
   * (at most every 250 ms) while deltas are withheld from it for want of one. Without a `keyframe`
   * provider, answer it by making the next frame a full picture.
   */
  'needs-keyframe': [peerId: string];
  /** A receiver's link opened or closed (`reason` says why it closed). */
  peer: [peerId: string, state: SourcePeerState, reason: string];
};

interface PeerLink {
  id: string;
  pc: RTCPeerConnection;
  media: RTCDataChannel;
  audio: RTCDataChannel;
  state: SourcePeerState;
  needsKeyframe: boolean;
  remoteSet: boolean;
  pending: RTCIceCandidateInit[];
  reassembler: Reassembler;
  timer: ReturnType<typeof setTimeout> | undefined;
  inputTokens: number;
  inputAt: number;
  lastSentAt: number;
  keyframeAskedAt: number;
  chunk: number;
}

/** Candidates queued before the answer is applied; more are dropped (a real peer sends a handful). */
const MAX_PENDING_CANDIDATES = 32;
const MAX_INPUT_FRAME = DEFAULT_MAX_JSON_PAYLOAD + HEADER_SIZE;

/**
 * WebRTC links from a source to its receivers.
 *
 * @example
 * ```ts
 * const links = new SourceMediaLinks({ signalUrl: signalUrlFor(sourceUrl), keyframe: () => encoder.keyframe() });
 * links.on('input', (frame, peerId, m) => handleInput(m.event));
 * // each frame: to the relay as before, and to every linked receiver
 * relaySocket.send(frame); links.send(frame);
 * ```
 */
export class SourceMediaLinks extends Emitter<SourceMediaLinksEvents> {
  /** This source's signaling peer id. */
  readonly id = newPeerId('source');
  /** False where there is no RTCPeerConnection (Node): nothing is ever linked. */
  readonly supported: boolean;
  readonly stats = { framesSent: 0, bytesSent: 0, framesSkipped: 0, inputs: 0, inputsDropped: 0, peersRefused: 0, badSignals: 0 };
  /**
   * The DTLS certificate fingerprint every link of this source uses (`sha-256 AB:CD:…`), once
   * known. Publish it through the relay (e.g. in the source's state); receivers given it as
   * `sourceFingerprint` accept offers only from this source.
   */
  readonly fingerprint: Promise<string | undefined>;
  private readonly peers = new Map<string, PeerLink>();
  private signaling: SignalingClient | undefined;
  private reconnect: ReturnType<typeof setTimeout> | undefined;
  private readonly PC: typeof RTCPeerConnection | undefined;
  private certificate: RTCCertificate | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly maxPeers: number;

  constructor(private readonly options: SourceMediaLinksOptions) {
    super();
    this.maxPeers = options.maxPeers ?? 8;
    this.PC = findPeerConnection(options.RTCPeerConnection);
    this.supported = this.PC !== undefined;
    if (!this.PC) {
      this.fingerprint = Promise.resolve(undefined);
      return;
    }
    const PC = this.PC;
    // One certificate for every link, so one fingerprint identifies this source.
    this.fingerprint = PC.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams)
      .then((cert) => {
        this.certificate = cert;
        const fp = cert.getFingerprints()[0];
        return fp?.value ? `${(fp.algorithm ?? 'sha-256').toLowerCase()} ${fp.value.toUpperCase()}` : undefined;
      })
      .catch(() => undefined);
    this.connectSignaling();
    const every = options.heartbeatMs ?? 500;
    this.heartbeat = setInterval(() => this.beat(every), every);
  }

  /** Ids of the receivers whose link is open. */
  get openPeers(): string[] {
    return [...this.peers.values()].filter((p) => p.state === 'open').map((p) => p.id);
  }

  /** Links open or being negotiated. */
  get peerCount(): number {
    return this.peers.size;
  }

  /**
   * Sends one complete protocol frame to every open peer; returns how many it went to. Audio goes
   * on the lossy channel, the rest in order on the reliable one. A peer that is behind skips it.
   */
  send(frame: Uint8Array): number {
    if (this.closed || this.peers.size === 0) return 0;
    const route = frameRoute(frame);
    let key: Uint8Array | undefined | null = null;
    let sent = 0;
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.state !== 'open') continue;
      if (route === 'audio' && frame.length + 1 <= p.chunk) {
        if (p.audio.readyState !== 'open' || p.audio.bufferedAmount > (this.options.maxAudioBufferedBytes ?? 64 * 1024)) {
          this.stats.framesSkipped++;
          continue;
        }
        if (this.sendOn(p, p.audio, frame, now)) sent++;
        continue;
      }
      let out = frame;
      if (route === 'delta' && p.needsKeyframe) {
        if (key === null) key = this.options.keyframe?.();
        if (!key || frameRoute(key) !== 'full') {
          this.stats.framesSkipped++;
          // Still waiting for a full picture: ask again (at most every 250 ms) once the peer can
          // take one, or a keyframe sent while it was behind would leave it without one for good.
          if (now - p.keyframeAskedAt >= 250 && p.media.bufferedAmount <= (this.options.maxBufferedBytes ?? 1024 * 1024)) {
            p.keyframeAskedAt = now;
            this.emit('needs-keyframe', p.id);
          }
          continue;
        }
        out = key;
      }
      if (p.media.bufferedAmount > (this.options.maxBufferedBytes ?? 1024 * 1024)) {
        this.stats.framesSkipped++;
        if (route === 'delta' || route === 'full') this.markNeedsKeyframe(p);
        continue;
      }
      if (!this.sendOn(p, p.media, out, now)) {
        if (route === 'delta' || route === 'full') this.markNeedsKeyframe(p);
        continue;
      }
      if (out !== frame || route === 'full') p.needsKeyframe = false;
      sent++;
    }
    return sent;
  }

  /** Closes every link and the signaling socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    clearTimeout(this.reconnect);
    for (const p of [...this.peers.values()]) this.drop(p, 'source closed', true);
    const signaling = this.signaling;
    this.signaling = undefined;
    signaling?.close();
  }

  /**
   * Opens `/signal`; when it drops (relay restart), reopens it after `signalRetryMs`. Open links
   * do not need it. A refusal (4400/4401/4403/4404) is final: retrying cannot fix it.
   */
  private connectSignaling(): void {
    const signaling = new SignalingClient(this.options.signalUrl, this.id, 'source', this.options.WebSocket);
    this.signaling = signaling;
    signaling.on('open', () => {
      // Announce only once the certificate exists: receivers that answer get offers at once.
      void this.fingerprint.then(() => {
        if (!this.closed) signaling.send({ type: 'hello' });
      });
    });
    signaling.on('message', (m) => {
      void this.fingerprint.then(() => this.onSignal(m));
    });
    signaling.on('close', (code) => {
      if (this.closed || this.signaling !== signaling) return;
      this.signaling = undefined;
      if (code >= 4400 && code <= 4404) return;
      this.reconnect = setTimeout(() => {
        if (!this.closed) this.connectSignaling();
      }, this.options.signalRetryMs ?? 2000);
    });
  }

  private sendOn(p: PeerLink, dc: RTCDataChannel, frame: Uint8Array, now: number): boolean {
    for (const part of chunkFrame(frame, p.chunk)) {
      // A partly sent frame is completed by nothing: the receiver drops it at the next first chunk.
      if (!trySend(dc, part)) return false;
    }
    p.lastSentAt = now;
    this.stats.framesSent++;
    this.stats.bytesSent += frame.length;
    return true;
  }

  private markNeedsKeyframe(p: PeerLink): void {
    if (p.needsKeyframe) return;
    p.needsKeyframe = true;
    p.keyframeAskedAt = Date.now();
    this.emit('needs-keyframe', p.id);
  }

  private beat(every: number): void {
    const now = Date.now();
    for (const p of this.peers.values()) {
      if (p.state === 'open' && now - p.lastSentAt >= every && p.media.bufferedAmount < 64 * 1024) {
        if (trySend(p.media, HEARTBEAT)) p.lastSentAt = now;
      }
    }
  }

  private onSignal(m: SignalMessage): void {
    if (this.closed || m.role !== 'receiver') return;
    const p = this.peers.get(m.from);
    switch (m.type) {
      case 'hello':
        // A receiver uses a fresh id per attempt, so a repeated hello for a known id is a duplicate.
        if (!p) this.startPeer(m.from);
        return;
      case 'answer':
        if (!p || p.remoteSet || p.pc.signalingState !== 'have-local-offer') return;
        p.remoteSet = true;
        p.pc
          .setRemoteDescription({ type: 'answer', sdp: m.sdp })
          .then(() => {
            for (const c of p.pending.splice(0)) p.pc.addIceCandidate(c).catch(() => {});
          })
          .catch(() => {
            // Garbage posing as this receiver's answer: ignore it and wait for the real one.
            p.remoteSet = false;
            this.stats.badSignals++;
          });
        return;
      case 'candidate':
        if (!p) return;
        if (p.remoteSet) p.pc.addIceCandidate(m.candidate).catch(() => {});
        else if (p.pending.length < MAX_PENDING_CANDIDATES) p.pending.push(m.candidate);
        return;
      case 'bye':
        if (p) this.drop(p, `receiver left: ${m.reason}`, false);
        return;
      default:
        return;
    }
  }

  private startPeer(id: string): void {
    if (this.peers.size >= this.maxPeers) {
      this.stats.peersRefused++;
      this.signaling?.send({ to: id, type: 'bye', reason: 'full' });
      return;
    }
    const PC = this.PC!;
    let pc: RTCPeerConnection;
    try {
      pc = new PC({ iceServers: this.options.iceServers ?? [], ...(this.certificate ? { certificates: [this.certificate] } : {}) });
    } catch {
      this.signaling?.send({ to: id, type: 'bye', reason: 'cannot create a peer connection' });
      return;
    }
    const media = pc.createDataChannel(MEDIA_LABEL, { ordered: true });
    const audio = pc.createDataChannel(AUDIO_LABEL, { ordered: false, maxRetransmits: 0 });
    media.binaryType = 'arraybuffer';
    audio.binaryType = 'arraybuffer';
    const p: PeerLink = {
      id,
      pc,
      media,
      audio,
      state: 'negotiating',
      needsKeyframe: true,
      remoteSet: false,
      pending: [],
      reassembler: new Reassembler(MAX_INPUT_FRAME),
      timer: undefined,
      inputTokens: this.options.maxInputBytesPerSecond ?? 256 * 1024,
      inputAt: Date.now(),
      lastSentAt: 0,
      keyframeAskedAt: 0,
      chunk: 16 * 1024,
    };
    this.peers.set(id, p);
    p.timer = setTimeout(() => {
      if (p.state === 'negotiating') this.drop(p, 'negotiation timed out', true);
    }, this.options.negotiationTimeoutMs ?? 10_000);
    pc.onicecandidate = (e) => {
      if (e.candidate && p.state !== 'closed') this.signaling?.send({ to: id, type: 'candidate', candidate: e.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') this.drop(p, `connection ${pc.connectionState}`, false);
    };
    media.onopen = () => {
      if (p.state !== 'negotiating') return;
      clearTimeout(p.timer);
      p.state = 'open';
      p.chunk = chunkLimit(pc);
      p.keyframeAskedAt = Date.now();
      const maxLinkMs = this.options.maxLinkMs ?? 600_000;
      if (maxLinkMs > 0) p.timer = setTimeout(() => this.drop(p, 'link age limit', true), maxLinkMs);
      this.emit('peer', id, 'open', '');
      this.emit('needs-keyframe', id);
    };
    media.onclose = () => this.drop(p, 'data channel closed', false);
    // Channels the receiver opens itself are not part of the link: closed unread.
    pc.ondatachannel = (e) => e.channel.close();
    media.onmessage = (ev) => this.onPeerMessage(p, ev.data);
    pc.createOffer()
      .then((offer) => pc.setLocalDescription(offer))
      .then(() => {
        const sdp = pc.localDescription?.sdp;
        if (p.state === 'closed' || !sdp) return;
        this.signaling?.send({ to: id, type: 'offer', sdp });
      })
      .catch((e: unknown) => this.drop(p, `offer failed: ${e instanceof Error ? e.message : String(e)}`, true));
  }

  private onPeerMessage(p: PeerLink, data: unknown): void {
    if (p.state !== 'open') return;
    const bytes = messageBytes(data);
    if (!bytes) {
      this.stats.inputsDropped++;
      return;
    }
    // A token bucket per receiver: the relay limits inputs it forwards; this path has to itself.
    const now = Date.now();
    const rate = this.options.maxInputBytesPerSecond ?? 256 * 1024;
    p.inputTokens = Math.min(rate, p.inputTokens + ((now - p.inputAt) * rate) / 1000);
    p.inputAt = now;
    if (bytes.length > p.inputTokens) {
      p.reassembler.reset();
      this.stats.inputsDropped++;
      return;
    }
    p.inputTokens -= bytes.length;
    const r = p.reassembler.push(bytes);
    if (r.kind === 'dropped') this.stats.inputsDropped++;
    if (r.kind !== 'frame') return;
    let m: Message;
    try {
      m = decodeMessage(r.frame, { maxPayload: MAX_INPUT_FRAME, maxJsonPayload: DEFAULT_MAX_JSON_PAYLOAD });
    } catch {
      this.stats.inputsDropped++;
      return;
    }
    if (m.kind !== 'input') {
      this.stats.inputsDropped++;
      return;
    }
    this.stats.inputs++;
    this.emit('input', r.frame, p.id, m);
  }

  private drop(p: PeerLink, reason: string, sayBye: boolean): void {
    if (p.state === 'closed') return;
    p.state = 'closed';
    clearTimeout(p.timer);
    this.peers.delete(p.id);
    if (sayBye) this.signaling?.send({ to: p.id, type: 'bye', reason });
    try {
      p.pc.close();
    } catch {
      // already closed
    }
    this.emit('peer', p.id, 'closed', reason);
  }
}
