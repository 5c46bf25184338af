/* global document, window, location, URLSearchParams, requestAnimationFrame, ImageData, innerWidth, innerHeight, addEventListener, performance, setInterval */
// /view/{channel}: shows a channel's picture on one canvas (frame-sized backing store, scaled by
// CSS), plays its audio, shows its state when it carries state, and sends pointer, keyboard,
// wheel, touch, gamepad and resize input back to the source. No build step: it imports the SDK
// the relay serves at /sluice.js. Every media frame, whatever path brought it, goes through
// onMediaFrame(msg, via), so another transport can feed the same page.
import { subscribeMedia, PictureDecoder, isPictureMessage, AudioPlayer, captureInput, ReceiverMediaLink } from '/sluice.js';

const params = new URLSearchParams(location.search);
const tail = location.pathname.replace(/^\/view\/?/, '');
/** Set when the address's channel is not valid percent-encoding: shown instead of a blank page. */
let badAddress = '';
export const channel = tail ? safeDecode(tail) : 'default';
function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    // Kept as is: the relay refuses it as a channel name, and the page says why.
    badAddress = `the channel name in this address ("${s.slice(0, 64)}") is not valid percent-encoding`;
    return s;
  }
}
document.title = `${channel} — Sluice`;

const $ = (id) => document.getElementById(id);
const body = document.body;
const screen = $('screen');
const ctx = screen.getContext('2d');
const stateEl = $('state');
const emptyEl = $('empty');
const overlay = $('overlay');
const soundBtn = $('sound');
body.dataset.transport = 'websocket';
body.dataset.frames = '0';

const options = {};
if (params.get('token')) options.token = params.get('token');
if (params.get('select')) options.select = params.get('select');
const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
export const view = subscribeMedia(`${scheme}://${location.host}/stream/${encodeURIComponent(channel)}`, options);
/** The relay's picture: always decoded, drawn whenever the WebRTC path is not healthy. */
export const picture = new PictureDecoder();
/**
 * ?webrtc=1: a WebRTC link to the source. Its frames go to their own decoder — a delta chain is
 * never mixed across paths — drawn while the link is open and has a picture (docs/webrtc.md).
 */
export const link = params.get('webrtc') === '1' ? new ReceiverMediaLink({ signalUrl: `${scheme}://${location.host}/signal/${encodeURIComponent(channel)}${params.get('token') ? `?token=${encodeURIComponent(params.get('token'))}` : ''}` }) : undefined;
export const rtcPicture = link ? new PictureDecoder() : undefined;
/** Drawing from the link: it is open and has a picture. */
function onLink() {
  return link !== undefined && link.transport === 'webrtc' && rtcPicture.hasPicture;
}
/**
 * While the link is healthy the relay's media is paused (it would be a second copy). From the
 * pause until the relay's first picture frame after the resume, the relay's decoder may hold an
 * old picture: the link's last one (at least as new) stays on screen until then — at most one
 * frame, since the relay sends its current picture first when this view missed a change.
 */
let relayStale = false;
/** The decoder whose picture is on screen. */
function shown() {
  if (onLink()) return rtcPicture;
  return relayStale && rtcPicture?.hasPicture ? rtcPicture : picture;
}
export const audio = new AudioPlayer({ jitterMs: Number(params.get('jitter') ?? 60) });

let framesDrawn = 0;
let imageData;
let drawScheduled = false;
/** Frame ages (ms) seen since the last overlay update: receive time minus the capture timestamp. */
let ages = [];
/** The last 600 frame ages, for automation and benchmarks. */
const recentAges = [];
let lastVia = 'websocket';
/** Media frames received, by kind ('delta-pixels', 'compressed-pixels', 'audio-pcm', …). */
const received = {};

/**
 * The one entry point for media frames: pictures go to the decoder and are drawn, audio to the
 * player. `via` names the path that brought the frame ('websocket', 'webrtc', …).
 */
export function onMediaFrame(msg, via = 'websocket') {
  lastVia = via;
  received[msg.kind] = (received[msg.kind] ?? 0) + 1;
  const decoder = via === 'webrtc' ? rtcPicture : picture;
  if (isPictureMessage(msg)) {
    // The relay's chain continues (or restarts from its current picture): it is up to date.
    if (via === 'websocket' && relayStale && !view.mediaPaused) {
      relayStale = false;
      scheduleDraw();
    }
    const r = decoder.apply(msg);
    // Only the path on screen redraws; a switch of paths redraws on its own ('transport').
    if (r === true) {
      if (decoder === shown()) scheduleDraw();
    }
    else if (r !== false) r.then((changed) => changed && decoder === shown() && scheduleDraw());
    return;
  }
  // Audio comes on both paths: play the link's while drawing from it, else the relay's.
  if (onLink() !== (via === 'webrtc')) return;
  if (msg.kind === 'audio-pcm' || msg.kind === 'audio-compressed') {
    audio.push(msg);
    body.dataset.audio = String(audio.stats.received);
    soundBtn.hidden = audio.enabled;
  }
}

view.on('media', (m) => onMediaFrame(m, 'websocket'));
if (link) {
  link.on('message', (m) => onMediaFrame(m, 'webrtc'));
  // A new attempt starts a new chain on that path.
  link.on('state', (s) => s === 'negotiating' && rtcPicture.reset());
  link.on('transport', () => {
    updateRelayMedia();
    scheduleDraw();
  });
  link.on('state', updateRelayMedia);
}

/**
 * ?webrtc=1: relay media is paused once the link has been open, with a picture, for
 * PAUSE_AFTER_MS; it resumes the moment the link is not open (stalled, failed, renegotiating).
 * Pausing is per connection at the relay; the view re-sends it on every reconnect.
 */
const PAUSE_AFTER_MS = Number(params.get('pauseAfter') ?? 1000);
let openSince = 0;
function updateRelayMedia() {
  if (!link) return;
  const open = link.transport === 'webrtc';
  if (!open) openSince = 0;
  else if (openSince === 0) openSince = performance.now();
  const pause = open && rtcPicture.hasPicture && performance.now() - openSince >= PAUSE_AFTER_MS && params.get('pause') !== '0';
  if (pause === view.mediaPaused) return;
  view.pauseMedia(pause);
  if (pause) relayStale = true;
  body.dataset.relayMedia = pause ? 'paused' : 'live';
}
if (link) {
  body.dataset.relayMedia = 'live';
  setInterval(updateRelayMedia, Math.max(50, Math.min(250, PAUSE_AFTER_MS / 4)));
}
// The relay's data was replaced: the picture we hold describes nothing any more.
view.on('reset', () => {
  picture.reset();
  scheduleDraw();
});
/** The pretty JSON of a state channel is cut beyond this many characters (with a note). */
const STATE_TEXT_LIMIT = 256 * 1024;
/** The state is shown at most this often: re-rendering a big state on every change froze the page. */
const STATE_RENDER_MS = 250;
let pendingState;
let stateTimer;
let stateRenderedAt = -Infinity;
view.on('change', ({ state }) => {
  pendingState = state;
  stateTimer ??= setTimeout(renderState, Math.max(0, stateRenderedAt + STATE_RENDER_MS - performance.now()));
});
function renderState() {
  stateTimer = undefined;
  stateRenderedAt = performance.now();
  const text = JSON.stringify(pendingState, null, 2) ?? '';
  stateEl.textContent = text.length <= STATE_TEXT_LIMIT ? text : `${text.slice(0, STATE_TEXT_LIMIT)}\n… (cut: the state is ${Math.round(text.length / 1024)} KiB as JSON; this page shows the first ${STATE_TEXT_LIMIT / 1024} KiB)`;
  showState();
}
view.on('status', updateConn);
view.on('state', updateConn);

function scheduleDraw() {
  if (drawScheduled) return;
  drawScheduled = true;
  // At most one draw per display frame: frames that arrive faster are decoded, and only the newest
  // picture is put on the canvas. A hidden page gets no animation frames: a timer draws then.
  requestAnimationFrame(draw);
  setTimeout(draw, 100);
}

function draw() {
  if (!drawScheduled) return;
  drawScheduled = false;
  const picture = shown();
  body.dataset.transport = onLink() ? 'webrtc' : 'websocket';
  if (!picture.hasPicture) {
    screen.classList.add('empty');
    showState();
    return;
  }
  if (screen.width !== picture.width || screen.height !== picture.height) {
    screen.width = picture.width;
    screen.height = picture.height;
    fit();
  }
  if (!imageData || imageData.data !== picture.rgba) imageData = new ImageData(picture.rgba, picture.width, picture.height);
  ctx.putImageData(imageData, 0, 0);
  if (screen.classList.contains('empty')) {
    screen.classList.remove('empty');
    showState();
  }
  if (picture.timestamp !== 0) {
    const age = ((Date.now() >>> 0) - picture.timestamp + 0x100000000) % 0x100000000;
    if (age < 600_000) {
      ages.push(age);
      recentAges.push(age);
      if (recentAges.length > 600) recentAges.shift();
    }
  }
  framesDrawn++;
  body.dataset.frames = String(framesDrawn);
}

/** State shows when the channel carries state and no picture. */
function showState() {
  const hasState = stateEl.textContent !== '' && stateEl.textContent !== '{}';
  const has = shown().hasPicture;
  stateEl.hidden = has || !hasState;
  emptyEl.hidden = has || hasState;
}

/** Scales the canvas (CSS only; its backing store stays frame-sized) to fit, keeping its aspect. */
function fit() {
  const w = shown().width;
  const h = shown().height;
  if (!w || !h) return;
  const s = params.get('fit') === 'none' ? 1 : Math.min(innerWidth / w, innerHeight / h);
  screen.style.width = `${w * s}px`;
  screen.style.height = `${h * s}px`;
  screen.classList.toggle('pixelated', s > 1);
}
addEventListener('resize', fit);

function updateConn() {
  const el = $('conn');
  const live = view.connectionState === 'live';
  el.textContent = live ? (view.sourceOnline ? 'live' : 'live, source offline') : view.connectionState;
  el.className = live ? '' : 'offline';
  if (badAddress) emptyEl.textContent = badAddress;
  else if (!picture.hasPicture && stateEl.hidden) emptyEl.textContent = live && !view.sourceOnline ? 'the source is offline' : 'waiting for the channel…';
}

// Overlay: frames drawn per second, bytes per second from the relay, frame age and ping.
if (params.get('overlay') === '0') overlay.classList.add('hidden');
let lastAt = performance.now();
let lastFrames = 0;
let lastBytes = 0;
let lastRtcBytes = 0;
setInterval(() => {
  const now = performance.now();
  const dt = (now - lastAt) / 1000;
  const fps = (framesDrawn - lastFrames) / dt;
  // Bytes of the path on screen: the relay's, or the link's while drawing from it.
  const rtcBytes = link ? link.stats.bytes : 0;
  const rate = (onLink() ? rtcBytes - lastRtcBytes : view.bytes - lastBytes) / dt;
  lastRtcBytes = rtcBytes;
  lastAt = now;
  lastFrames = framesDrawn;
  lastBytes = view.bytes;
  $('fps').textContent = `${fps.toFixed(fps < 10 ? 1 : 0)} fps`;
  $('rate').textContent = rate >= 1e6 ? `${(rate / 1e6).toFixed(1)} MB/s` : `${(rate / 1e3).toFixed(0)} kB/s`;
  const sorted = ages.sort((a, b) => a - b);
  const age = sorted.length ? `${sorted[Math.floor(sorted.length / 2)]} ms` : '–';
  $('latency').textContent = `age ${age} · rtt ${view.latencyMs ?? '–'} ms`;
  ages = [];
  $('transport').textContent = body.dataset.transport ?? lastVia;
  updateConn();
}, 500);

soundBtn.addEventListener('click', () => {
  audio.enable().then(() => (soundBtn.hidden = true), () => (soundBtn.textContent = '🔇 sound unavailable'));
});

if (params.get('input') !== '0') {
  // Over the link while it is open, else (or when it is backed up) through the relay.
  const send = (e) => (link && link.sendInputEvent(e)) || view.input(e);
  captureInput(screen, send, () => ({ width: shown().width, height: shown().height }), { fit: 'contain' });
}

// For other frame sources and for automation.
window.sluiceView = { channel, view, picture, rtcPicture, link, audio, onMediaFrame, scheduleDraw, recentAges, received, shown, get relayStale() { return relayStale; } };
