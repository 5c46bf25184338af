// Test pages for the WebRTC media link tests: a source page and a receiver page, plain HTML that
// imports /sluice.js from the relay. Each speaks the wire protocol on its own WebSocket (the source
// publishes every frame to the relay AND over its links, as an integration would), so the tests
// see both paths. Frames are built by hand: a 16-byte header and a payload whose bytes derive
// from the frame's number, so the receiver can check them without a copy.
import type { HttpRequest, HttpResponse } from '../../src/relay/transport.js';

const COMMON = `
const q = new URLSearchParams(location.search);
const ch = q.get('ch');
const opts = JSON.parse(q.get('opts') || '{}');
const base = 'ws://' + location.host;
const signalUrl = base + (q.get('signal') || '/signal/' + ch);
// type u8 | flags u8 | seq u16 | timestamp u32 | width u16 | height u16 | length u32
function frame(type, flags, n, length) {
  const f = new Uint8Array(16 + length);
  const v = new DataView(f.buffer);
  v.setUint8(0, type); v.setUint8(1, flags); v.setUint16(2, n & 0xffff, true); v.setUint32(4, n, true);
  v.setUint16(8, 4, true); v.setUint16(10, 4, true); v.setUint32(12, length, true);
  for (let i = 0; i < length; i++) f[16 + i] = (n * 31 + i * 7) & 0xff;
  return f;
}
// Payload intact? (every byte as frame() wrote it for the number in the header's timestamp)
function intact(f) {
  const v = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const n = v.getUint32(4, true), length = v.getUint32(12, true);
  if (f.length !== 16 + length) return false;
  for (let i = 0; i < length; i++) if (f[16 + i] !== ((n * 31 + i * 7) & 0xff)) return false;
  return true;
}
window.errors = [];
window.addEventListener('error', (e) => window.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.errors.push(String(e.reason)));
`;

const SOURCE = `<!doctype html><html><body><script type="module">
import { SourceMediaLinks } from '/sluice.js';
${COMMON}
window.frame = frame;
window.inputs = [];
window.peerEvents = [];
window.keyframeCalls = 0;
const relay = new WebSocket(base + '/source/' + ch);
relay.binaryType = 'arraybuffer';
await new Promise((r) => (relay.onopen = r));
let current = 0;
const links = new SourceMediaLinks({
  signalUrl, ...opts,
  // The picture the current frame results in, as a full frame (type Keyframe 0xf0).
  keyframe: opts.noKeyframe ? undefined : () => { window.keyframeCalls++; return frame(0xf0, 0x02, current, 64); },
});
window.keyframeAsks = 0;
links.on('needs-keyframe', () => window.keyframeAsks++);
links.on('input', (f, peer, m) => window.inputs.push({ peer, event: m.event }));
links.on('peer', (peer, state, reason) => window.peerEvents.push(state + ':' + reason));
window.links = links;
// Publish one frame on both paths: the relay's and every open link.
window.publish = (type, flags, n, length) => {
  current = n;
  const f = frame(type, flags, n, length);
  relay.send(f);
  return links.send(f);
};
document.body.dataset.ready = '1';
</script></body></html>`;

const RECEIVER = `<!doctype html><html><body><script type="module">
import { ReceiverMediaLink } from '/sluice.js';
${COMMON}
window.rtc = [];        // [type, n, intact] per frame over WebRTC
window.relayFrames = []; // the same for the relay's stream
window.transports = [];
window.states = [];
const relay = new WebSocket(base + '/stream/' + ch);
relay.binaryType = 'arraybuffer';
relay.onmessage = (e) => {
  if (typeof e.data === 'string') return;
  const f = new Uint8Array(e.data);
  if (f[0] === 0x01 || f[0] === 0x03 || f[0] === 0xf0 || f[0] === 0x10) window.relayFrames.push([f[0], new DataView(e.data).getUint32(4, true), intact(f)]);
};
await new Promise((r) => (relay.onopen = r));
const link = new ReceiverMediaLink({ signalUrl, retryMs: 0, ...opts });
window.link = link;
link.on('frame', (f) => window.rtc.push([f[0], new DataView(f.buffer, f.byteOffset).getUint32(4, true), intact(f)]));
link.on('transport', (t) => window.transports.push(t));
window.decoded = [];
link.on('message', (m) => window.decoded.push(m.kind));
window.sendKey = (key) => link.sendInputEvent({ input: 'key', keyCode: 65, modifiers: 0, phase: 0, key });
link.on('state', (s, why) => window.states.push(s + (why ? ':' + why : '')));
// An input frame: Pointer (type 1, FLAG_INPUT) at (x, y), button 1, phase down (1).
window.sendPointer = (x, y) => {
  const f = new Uint8Array(16 + 6);
  const v = new DataView(f.buffer);
  v.setUint8(0, 0x01); v.setUint8(1, 0x01); v.setUint32(12, 6, true);
  v.setUint16(16, x, true); v.setUint16(18, y, true); v.setUint8(20, 1); v.setUint8(21, 1);
  return link.sendInput(f);
};
// Not an input: a Pixels frame sent "as input" must be refused by the source.
window.sendBogusInput = () => link.sendInput(frame(0x01, 0, 7, 8));
document.body.dataset.ready = '1';
</script></body></html>`;

/** Serves /webrtc-source.html and /webrtc-receiver.html. */
export function webrtcPages(req: HttpRequest, res: HttpResponse): boolean {
  const path = (req.url ?? '').split('?')[0];
  const body = path === '/webrtc-source.html' ? SOURCE : path === '/webrtc-receiver.html' ? RECEIVER : undefined;
  if (body === undefined) return false;
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(body);
  return true;
}
