/* global document, window, location, localStorage, WebSocket, URLSearchParams, setInterval */
// Sluice operations console. Plain ES module, no build step, no external requests.
// Every value from the relay (channel names, state, log lines) is attacker-controlled: it is
// only ever put in the page with textContent or as attribute values, never as HTML.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get('token') ?? '';

/** Creates an element with a class and text (text via textContent, never HTML). */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

// ---------------------------------------------------------------- formatting

function fmtNum(n) {
  if (n === undefined || n === null) return '–';
  if (n < 1000) return String(n);
  if (n < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 1 : 0) + 'k';
  if (n < 1e9) return (n / 1e6).toFixed(n < 1e7 ? 1 : 0) + 'M';
  return (n / 1e9).toFixed(1) + 'G';
}
function fmtBytes(n) {
  if (n === undefined || n === null) return '–';
  if (n < 1024) return n + ' B';
  if (n < 1024 ** 2) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KiB';
  if (n < 1024 ** 3) return (n / 1024 ** 2).toFixed(n < 10 * 1024 ** 2 ? 1 : 0) + ' MiB';
  return (n / 1024 ** 3).toFixed(1) + ' GiB';
}
function fmtDur(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
function fmtTime(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

// ---------------------------------------------------------------- state

/** The feed refuses a filter or watched name longer than this (see src/relay/http/feed.ts). */
const MAX_QUERY = 256;

let latest = null; // last tick
let skew = 0; // relay clock − our clock
let watching = null; // channel name in the channel view
let detail = null;
let sortKey = localStorage.getItem('sluice.sort') ?? 'name';
let sortDir = Number(localStorage.getItem('sluice.dir') ?? 1);
const now = () => Date.now() + skew;

// ---------------------------------------------------------------- feed

let ws = null;
let retry = 1000;
let refused = false;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = token ? '?token=' + encodeURIComponent(token) : '';
  setLive('connecting');
  ws = new WebSocket(`${proto}//${location.host}/api/feed${q}`);
  ws.onopen = () => {
    retry = 1000;
    setLive('live');
    sendWatch();
    const f = filterText();
    if (f) ws.send(JSON.stringify({ q: f }));
  };
  ws.onmessage = (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (m.type === 'tick') onTick(m);
    else if (m.type === 'channel' && m.name === watching) onDetail(m.channel);
    else if (m.type === 'error') filterNote(String(m.error ?? 'the relay refused a request'));
  };
  ws.onclose = (ev) => {
    ws = null;
    if (ev.code === 4401 || ev.code === 4403) {
      refused = true;
      setLive('refused');
      banner(ev.code === 4401 ? 'The relay requires an admin token: open /console?token=…' : 'This token has no admin claim.');
      return;
    }
    setLive('offline');
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  };
}
function sendWatch() {
  // A name the feed would refuse (closing it) is not asked for; route() says why.
  const w = watching !== null && watching.length <= MAX_QUERY ? watching : null;
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ watch: w }));
}
/** The filter as sent to the relay: trimmed, at most MAX_QUERY characters (a note says when cut). */
function filterText() {
  const v = $('filter').value.trim();
  if (v.length <= MAX_QUERY) {
    filterNote(null);
    return v;
  }
  filterNote(`filter cut to its first ${MAX_QUERY} characters`);
  return v.slice(0, MAX_QUERY);
}
function filterNote(text) {
  const n = $('filter-note');
  n.hidden = !text;
  setText(n, text ?? '');
}
function setLive(s) {
  const l = $('live');
  l.className = 'live ' + s;
  setText(l.querySelector('b'), s);
}
function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  setText(b, text ?? '');
}

// ---------------------------------------------------------------- routing

function route() {
  const h = location.hash;
  const m = /^#\/channels\/(.+)$/.exec(h);
  let name = null;
  if (m) {
    try {
      name = decodeURIComponent(m[1]);
    } catch {
      name = null;
    }
  }
  const view = name !== null ? 'channel' : h === '#/relay' ? 'relay' : 'channels';
  $('view-channels').hidden = view !== 'channels';
  $('view-channel').hidden = view !== 'channel';
  $('view-relay').hidden = view !== 'relay';
  $('tab-channels').classList.toggle('on', view !== 'relay');
  $('tab-relay').classList.toggle('on', view === 'relay');
  if (name !== watching) {
    watching = name;
    detail = null;
    resetChannelView();
    if (name !== null && name.length > MAX_QUERY) {
      setText($('ch-missing'), `Channel names are at most ${MAX_QUERY} characters; this one has ${name.length}.`);
      $('ch-missing').hidden = false;
      $('ch-body').hidden = true;
    } else setText($('ch-missing'), MISSING_TEXT);
    sendWatch();
  }
  if (view === 'channel') {
    setText($('ch-name'), name);
    document.title = name + ' · Sluice console';
  } else document.title = 'Sluice console';
  if (latest) render();
}
const MISSING_TEXT = $('ch-missing').textContent;
const channelHref = (name) => '#/channels/' + encodeURIComponent(name);

// ---------------------------------------------------------------- tick

function onTick(m) {
  latest = m;
  skew = m.t - Date.now();
  render();
}
function render() {
  if (!latest) return;
  renderSummary();
  if (!$('view-channels').hidden) renderChannels();
  if (!$('view-relay').hidden) renderRelay();
  if (!$('view-channel').hidden && detail) renderDetailAges();
}

function renderSummary() {
  const r = latest.relay;
  const rows = latest.channels;
  let online = 0, receivers = 0, behind = 0, fin = 0, bin = 0, fout = 0, bout = 0;
  for (const c of rows) {
    if (c.online) online++;
    receivers += c.receivers;
    behind += c.behind;
    fin += c.framesInPerSec;
    bin += c.bytesInPerSec;
    fout += c.framesOutPerSec;
    bout += c.bytesOutPerSec;
  }
  setText($('s-channels'), fmtNum(latest.total));
  setText($('s-online'), fmtNum(online));
  setText($('s-receivers'), fmtNum(receivers));
  const b = $('s-behind');
  setText(b, fmtNum(behind));
  b.classList.toggle('bad', behind > 0);
  setText($('s-in'), `${fmtNum(fin)}/s`);
  setText($('s-inb'), `${fmtBytes(bin)}/s`);
  setText($('s-out'), `${fmtNum(fout)}/s`);
  setText($('s-outb'), `${fmtBytes(bout)}/s`);
  setText($('s-mem'), fmtBytes(r.memory.rss));
  setText($('s-uptime'), fmtDur(r.uptimeSeconds * 1000));
  setText($('node'), 'engine ' + r.engine + (r.node ? ' · node ' + r.node : ''));
}

// ---------------------------------------------------------------- channels table

const rowsByName = new Map();
function kindBadges(kinds) {
  const span = el('span', 'kinds');
  for (const k of kinds) span.append(el('span', 'kind k-' + k, k));
  return span;
}
function makeRow(name) {
  const tr = el('tr');
  const cells = {};
  const td = (key, cls, label) => {
    const c = el('td', cls);
    c.dataset.label = label;
    tr.append(c);
    cells[key] = c;
    return c;
  };
  const nameCell = td('name', 'left name', 'Channel');
  const a = el('a', 'mono', name);
  a.href = channelHref(name);
  nameCell.append(a, el('span', 'kinds'));
  td('source', 'left', 'Source');
  td('receivers', 'num', 'Receivers');
  td('in', 'num', 'In');
  td('out', 'num', 'Out');
  td('conflated', 'num', 'Conflated');
  td('skipped', 'num', 'Skipped');
  td('dropped', 'num', 'Dropped');
  td('state', 'num', 'State');
  tr.dataset.name = name;
  return { tr, cells, kinds: '' };
}
function rateCell(cell, frames, bytes) {
  if (cell.childNodes.length !== 2) cell.replaceChildren(el('span', 'mono'), el('span', 'sub mono'));
  setText(cell.childNodes[0], frames ? fmtNum(frames) + '/s' : '·');
  setText(cell.childNodes[1], bytes ? fmtBytes(bytes) + '/s' : '');
  cell.classList.toggle('idle', !frames);
}
function countCell(cell, n, cls) {
  setText(cell, n ? fmtNum(n) : '·');
  cell.className = 'num mono' + (n ? ' ' + cls : ' idle');
}
function updateRow(r, c) {
  const k = c.kinds.join(',');
  if (r.kinds !== k) {
    r.kinds = k;
    r.cells.name.querySelector('.kinds').replaceWith(kindBadges(c.kinds));
  }
  const src = r.cells.source;
  if (src.childNodes.length !== 2) src.replaceChildren(el('span', 'dot'), el('span', 'sub mono'));
  src.childNodes[0].className = 'dot ' + (c.online ? 'on' : 'off');
  setText(src.childNodes[0], c.online ? 'online' : 'offline');
  setText(src.childNodes[1], fmtDur(now() - c.since));
  const rc = r.cells.receivers;
  if (rc.childNodes.length !== 2) rc.replaceChildren(el('span', 'mono'), el('span', 'sub mono'));
  setText(rc.childNodes[0], String(c.receivers) + (c.clusterReceivers !== undefined ? ` (${c.clusterReceivers})` : ''));
  setText(rc.childNodes[1], (c.behind ? c.behind + ' behind · ' : '') + 'peak ' + c.receiversPeak);
  rc.classList.toggle('bad', c.behind > 0);
  rateCell(r.cells.in, c.framesInPerSec, c.bytesInPerSec);
  rateCell(r.cells.out, c.framesOutPerSec, c.bytesOutPerSec);
  countCell(r.cells.conflated, c.conflatedDiffs, 'warn');
  countCell(r.cells.skipped, c.skippedFrames, 'warn');
  countCell(r.cells.dropped, c.droppedFrames, 'bad');
  const st = r.cells.state;
  if (st.childNodes.length !== 2) st.replaceChildren(el('span', 'mono'), el('span', 'sub mono'));
  const hasState = c.kinds.includes('state');
  const hasLog = c.kinds.includes('log');
  setText(st.childNodes[0], hasState ? 'v' + fmtNum(c.stateVersion) : hasLog ? '#' + fmtNum(c.logNext) : '·');
  setText(st.childNodes[1], hasState ? fmtBytes(c.stateBytes) + ' · ' + c.fields + ' fields' : hasLog ? c.logRetained + ' kept' : '');
  st.classList.toggle('idle', !hasState && !hasLog);
  r.tr.classList.toggle('offline', !c.online);
}
function sortValue(c, key) {
  if (key === 'name') return c.name;
  if (key === 'online') return c.online ? 1 : 0;
  return c[key] ?? 0;
}
function renderChannels() {
  const filter = filterText().toLowerCase();
  const rows = latest.channels.filter((c) => !filter || c.name.toLowerCase().includes(filter));
  rows.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    return (x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : 1) * (x === y ? 1 : sortDir);
  });
  const tbody = $('channels').tBodies[0];
  const seen = new Set();
  let i = 0;
  for (const c of rows) {
    seen.add(c.name);
    let r = rowsByName.get(c.name);
    if (!r) {
      r = makeRow(c.name);
      rowsByName.set(c.name, r);
    }
    updateRow(r, c);
    if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] ?? null);
    i++;
  }
  for (const [name, r] of rowsByName) {
    if (!seen.has(name)) {
      r.tr.remove();
      rowsByName.delete(name);
    }
  }
  setText($('count'), filter ? `${rows.length} of ${latest.total}` : `${latest.total} channel${latest.total === 1 ? '' : 's'}`);
  $('empty').hidden = latest.total > 0;
  const t = $('truncated');
  t.hidden = !latest.truncated;
  if (latest.truncated) setText(t, `Showing ${latest.channels.length} of ${latest.matched} matching channels: filter by name to find the others.`);
  for (const th of $('channels').tHead.rows[0].cells) {
    th.classList.toggle('sorted', th.dataset.sort === sortKey);
    th.dataset.dir = sortDir > 0 ? 'asc' : 'desc';
  }
}

// ---------------------------------------------------------------- channel view

const fieldRows = new Map();
const HIGHLIGHT_MS = 3000;
let lastPictureVersion = -1;
function resetChannelView() {
  fieldRows.clear();
  $('inspector').tBodies[0].replaceChildren();
  $('receivers').tBodies[0].replaceChildren();
  $('log').replaceChildren();
  $('ch-tiles').replaceChildren();
  lastPictureVersion = -1;
  $('picture').removeAttribute('src');
  for (const id of ['pane-state', 'pane-picture', 'pane-schema', 'pane-log', 'pane-process']) $(id).hidden = true;
  $('ch-missing').hidden = true;
  $('ch-body').hidden = false;
  setText($('ch-source'), '');
  $('ch-kinds').replaceChildren();
}

function tile(parent, label, value, sub, cls) {
  const t = el('div', 'tile' + (cls ? ' ' + cls : ''));
  t.append(el('span', 'k', label), el('span', 'v mono', value));
  if (sub) t.append(el('span', 'sub mono', sub));
  parent.append(t);
}

function onDetail(c) {
  if (c === null) {
    $('ch-missing').hidden = false;
    $('ch-body').hidden = true;
    return;
  }
  $('ch-missing').hidden = true;
  $('ch-body').hidden = false;
  const prev = detail;
  detail = c;
  $('ch-kinds').replaceWith(Object.assign(kindBadges(c.kinds), { id: 'ch-kinds' }));
  const src = $('ch-source');
  src.className = 'pill ' + (c.online ? 'on' : 'off');
  setText(src, (c.online ? 'source online · ' : 'source offline · ') + fmtDur(now() - c.since));

  const tiles = $('ch-tiles');
  tiles.replaceChildren();
  tile(tiles, 'Receivers', String(c.receivers), `peak ${c.receiversPeak}` + (c.clusterReceivers !== undefined ? ` · cluster ${c.clusterReceivers}` : ''));
  tile(tiles, 'Behind', String(c.behind), null, c.behind ? 'bad' : '');
  tile(tiles, 'In', fmtNum(c.framesInPerSec) + '/s', fmtBytes(c.bytesInPerSec) + '/s');
  tile(tiles, 'Out', fmtNum(c.framesOutPerSec) + '/s', fmtBytes(c.bytesOutPerSec) + '/s');
  tile(tiles, 'Conflated', fmtNum(c.conflatedDiffs), 'diffs merged', c.conflatedDiffs ? 'warn' : '');
  tile(tiles, 'Skipped', fmtNum(c.skippedFrames), 'pixel frames', c.skippedFrames ? 'warn' : '');
  tile(tiles, 'Dropped', fmtNum(c.droppedFrames), 'media frames', c.droppedFrames ? 'bad' : '');
  tile(tiles, 'Too slow', fmtNum(c.tooSlowCloses), 'closed 4413', c.tooSlowCloses ? 'bad' : '');
  if (c.state && c.fields > 0) tile(tiles, 'State', 'v' + c.stateVersion, fmtBytes(c.stateBytes) + ' · ' + c.fields + ' fields');
  if (c.log) tile(tiles, 'Log', '#' + fmtNum(c.log.next), `${fmtNum(c.log.retained)} kept · ${fmtBytes(c.log.retainedBytes)}`);

  renderReceivers(c);
  renderState(c, prev);
  renderProcess(c);
  renderPicture(c);
  renderSchema(c);
  renderLog(c);
}

function renderReceivers(c) {
  const tbody = $('receivers').tBodies[0];
  const frag = document.createDocumentFragment();
  for (const r of c.receiverList) {
    const tr = el('tr', r.behind ? 'behind' : '');
    tr.dataset.id = r.id;
    const status = r.pending ? 'pending' : r.behind ? 'behind' : 'live';
    const s = el('td', 'left');
    s.dataset.label = 'Status';
    s.append(el('span', 'pill ' + status, status));
    // It gets its pictures elsewhere (a WebRTC link): the relay sends it no media for now.
    if (r.media === 'paused') {
      const p = el('span', 'pill off media-paused', 'media paused');
      p.title = 'this receiver paused media: the relay skips pictures and audio for it';
      s.append(p);
    }
    const lag = [];
    if (r.lagVersions !== undefined) lag.push(r.lagVersions + ' versions');
    else if (r.syncPending) lag.push('full sync pending');
    if (r.lagOffsets) lag.push(r.lagOffsets + ' records');
    const cells = [
      ['Id', el('td', 'left mono', '#' + r.id)],
      null,
      ['Lag', el('td', 'num mono lag', lag.join(' · ') || (r.behind ? 'catching up' : '·'))],
      ['Queued', el('td', 'num mono' + (r.queuedBytes > 0 ? '' : ' idle'), r.queuedBytes ? fmtBytes(r.queuedBytes) : '·')],
      ['Select', el('td', 'left mono', r.select ? r.select.join(', ') : 'all')],
      ['Remote', el('td', 'left mono', r.remote || '–')],
      ['Connected', el('td', 'num mono', fmtDur(now() - r.connectedAt))],
    ];
    for (const x of cells) {
      if (x === null) {
        tr.append(s);
        continue;
      }
      x[1].dataset.label = x[0];
      tr.append(x[1]);
    }
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
  $('rc-empty').hidden = c.receiverList.length > 0;
  setText($('rc-count'), c.receiversTruncated ? `${c.receiverList.length} of ${c.receivers}` : String(c.receivers));
}

/** A JSON value as a tree of elements (text only). Objects and arrays fold with <details>. */
function renderValue(v, depth) {
  if (v === null) return el('span', 'j-null', 'null');
  if (typeof v === 'string') return el('span', 'j-str', JSON.stringify(v));
  if (typeof v === 'number') return el('span', 'j-num', String(v));
  if (typeof v === 'boolean') return el('span', 'j-bool', String(v));
  const isArr = Array.isArray(v);
  const keys = isArr ? v.map((_, i) => i) : Object.keys(v);
  if (keys.length === 0) return el('span', 'j-punct', isArr ? '[]' : '{}');
  const d = el('details', 'j-tree');
  d.open = depth < 2 && keys.length <= 8;
  const sum = el('summary', 'j-punct', isArr ? `[${keys.length}]` : `{${keys.length}}`);
  d.append(sum);
  const shown = keys.slice(0, 200);
  for (const k of shown) {
    const line = el('div', 'j-line');
    line.append(el('span', 'j-key', isArr ? k : JSON.stringify(k)), el('span', 'j-punct', ': '), renderValue(v[k], depth + 1));
    d.append(line);
  }
  if (keys.length > shown.length) d.append(el('div', 'j-more', `… ${keys.length - shown.length} more`));
  return d;
}

function renderState(c, prev) {
  const pane = $('pane-state');
  if (!c.state || c.fields === 0) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const tbody = $('inspector').tBodies[0];
  const seen = new Set();
  const firstRender = !prev || !prev.state;
  for (const f of c.fieldList) {
    seen.add(f.name);
    let row = fieldRows.get(f.name);
    if (!row) {
      const tr = el('tr');
      tr.dataset.field = f.name;
      const k = el('td', 'left mono key', f.name);
      const val = el('td', 'left mono val');
      const ver = el('td', 'num mono');
      const age = el('td', 'num mono age');
      k.dataset.label = 'Field';
      val.dataset.label = 'Value';
      ver.dataset.label = 'Version';
      age.dataset.label = 'Age';
      tr.append(k, val, ver, age);
      row = { tr, val, ver, age, version: -1, changedAt: undefined, markedUntil: 0 };
      fieldRows.set(f.name, row);
    }
    if (row.version !== f.version) {
      row.val.replaceChildren(renderValue(c.state[f.name], 0));
      setText(row.ver, 'v' + f.version);
      if (!firstRender) {
        // Restart the highlight: the field changed since the last update; it stays marked 3 s.
        row.tr.classList.remove('changed');
        void row.tr.offsetWidth;
        row.tr.classList.add('changed');
        row.markedUntil = Date.now() + HIGHLIGHT_MS;
      }
      row.version = f.version;
    }
    row.changedAt = f.changedAt;
  }
  for (const [name, row] of fieldRows) {
    if (!seen.has(name)) {
      row.tr.remove();
      fieldRows.delete(name);
    }
  }
  // Keep the state's own field order.
  let i = 0;
  for (const f of c.fieldList) {
    const tr = fieldRows.get(f.name).tr;
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
    i++;
  }
  renderDetailAges();
  setText($('st-meta'), `v${c.stateVersion} · ${fmtBytes(c.stateBytes)} · ${c.fields} fields`);
  const t = $('st-trunc');
  t.hidden = !c.stateTruncated;
  if (c.stateTruncated) setText(t, `Showing ${c.fieldList.length} of ${c.fields} fields: the state is larger than the inspector shows.`);
}
function renderDetailAges() {
  const t = Date.now();
  for (const row of fieldRows.values()) {
    setText(row.age, row.changedAt === undefined ? 'older' : fmtDur(now() - row.changedAt));
    if (row.markedUntil && t >= row.markedUntil) {
      row.markedUntil = 0;
      row.tr.classList.remove('changed');
    }
  }
}

function renderProcess(c) {
  const s = c.state;
  const isProc = c.name.startsWith('process:') || (s && typeof s.status === 'string' && ('exitCode' in s || 'pid' in s));
  $('pane-process').hidden = !isProc;
  if (!isProc) return;
  const box = $('proc');
  box.replaceChildren();
  const status = s && typeof s.status === 'string' ? s.status : c.online ? 'running' : 'unknown';
  const cls = status === 'running' ? 'on' : status === 'exited' && s.exitCode === 0 ? 'ok' : status === 'unknown' ? 'off' : 'bad';
  box.append(el('span', 'pill big ' + cls, status));
  if (s && s.exitCode !== undefined && status !== 'running') box.append(el('span', 'mono exit', 'exit code ' + s.exitCode));
  if (s && s.pid !== undefined) box.append(el('span', 'mono muted', 'pid ' + s.pid));
  const link = el('a', 'muted', 'terminal view ↗');
  if (c.name.startsWith('process:')) {
    link.href = '/process/' + encodeURIComponent(c.name.slice('process:'.length));
    box.append(link);
  }
}

function renderPicture(c) {
  const p = c.picture;
  $('pane-picture').hidden = !p;
  if (!p) return;
  setText($('pic-meta'), `${p.width}×${p.height} · v${p.version}`);
  if (p.version !== lastPictureVersion) {
    lastPictureVersion = p.version;
    const q = new URLSearchParams({ v: String(p.version) });
    if (token) q.set('token', token);
    $('picture').src = '/api/channels/' + encodeURIComponent(c.name) + '/picture?' + q;
  }
}

function renderSchema(c) {
  // SDK sources announce a schema even without signals: only a schema that says something is shown.
  const empty = c.schema === null || (Array.isArray(c.schema.signals) && c.schema.signals.length === 0);
  $('pane-schema').hidden = empty;
  if (!empty) setText($('schema'), JSON.stringify(c.schema, null, 2));
}

function renderLog(c) {
  const pane = $('pane-log');
  pane.hidden = !c.log;
  if (!c.log) return;
  setText($('log-meta'), `offsets ${c.log.first}–${c.log.next - 1} · ${fmtNum(c.log.retained)} kept`);
  const box = $('log');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const last = box.lastElementChild ? Number(box.lastElementChild.dataset.offset) : -1;
  for (const l of c.log.tail) {
    if (l.offset <= last) continue;
    const line = el('div', 'log-line s-' + l.stream);
    line.dataset.offset = l.offset;
    line.append(el('span', 'lo mono', l.offset), el('span', 'lt mono', fmtTime(l.time)), el('span', 'ls', l.stream), el('span', 'lx mono', l.text));
    box.append(line);
  }
  while (box.childElementCount > 500) box.firstElementChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// ---------------------------------------------------------------- relay view

function kvTable(id, entries) {
  const tbody = $(id).tBodies[0];
  const frag = document.createDocumentFragment();
  for (const [k, v, cls] of entries) {
    const tr = el('tr');
    tr.append(el('td', 'left', k), el('td', 'num mono' + (cls ? ' ' + cls : ''), v));
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
}
function renderRelay() {
  const r = latest.relay;
  const tiles = $('rl-tiles');
  tiles.replaceChildren();
  tile(tiles, 'Status', r.draining ? 'draining' : r.ready ? 'ready' : 'not ready', r.engine + (r.node ? ' · node ' + r.node : ''), r.ready ? 'good' : 'bad');
  tile(tiles, 'Uptime', fmtDur(r.uptimeSeconds * 1000), 'since ' + new Date(r.startedAt).toLocaleString());
  tile(tiles, 'Connections', fmtNum(r.connections.total), `${r.connections.receiver} receivers · ${r.connections.source} sources`);
  tile(tiles, 'Channels', fmtNum(r.channelCount), `${fmtNum(r.totals.channelsCreated)} created · ${fmtNum(r.totals.channelsCollected)} collected`);
  tile(tiles, 'Memory', fmtBytes(r.memory.rss), 'heap ' + fmtBytes(r.memory.heapUsed));
  tile(tiles, 'Internal errors', String(r.totals.internalErrors), 'contained failures', r.totals.internalErrors ? 'bad' : 'good');
  const c = r.connections;
  kvTable('rl-conns', [
    ['Receivers', fmtNum(c.receiver)],
    ['Sources', fmtNum(c.source)],
    ['Signaling peers', fmtNum(c.signal)],
    ['/ws (go-ws) clients', fmtNum(c.other)],
    ['Console feeds', `${r.feed.clients} / ${r.feed.maxClients}`],
    ['Accepted (total)', fmtNum(r.totals.connectionsTotal)],
    ['Refused (total)', fmtNum(r.totals.connectionsRejected), r.totals.connectionsRejected ? 'warn' : ''],
  ]);
  const t = r.totals;
  kvTable('rl-totals', [
    ['Frames in', fmtNum(t.framesIn)],
    ['Bytes in', fmtBytes(t.bytesIn)],
    ['Frames out', fmtNum(t.framesOut)],
    ['Bytes out', fmtBytes(t.bytesOut)],
    ['Conflated diffs', fmtNum(t.conflatedDiffs), t.conflatedDiffs ? 'warn' : ''],
    ['Skipped frames', fmtNum(t.skippedFrames), t.skippedFrames ? 'warn' : ''],
    ['Dropped frames', fmtNum(t.droppedFrames), t.droppedFrames ? 'bad' : ''],
    ['Feed tick', r.feed.lastTickMs + ' ms'],
  ]);
  const closes = Object.entries(t.closesByReason).sort((a, b) => b[1] - a[1]);
  kvTable('rl-closes', closes.map(([k, v]) => [k, fmtNum(v), k === 'GoingAway' ? '' : 'warn']));
  $('rl-closes-empty').hidden = closes.length > 0;
  const m = r.memory;
  kvTable('rl-mem', [
    ['Resident (RSS)', fmtBytes(m.rss)],
    ['Heap used', fmtBytes(m.heapUsed)],
    ['Heap total', fmtBytes(m.heapTotal)],
    ['External', fmtBytes(m.external)],
    ['Array buffers', fmtBytes(m.arrayBuffers)],
  ]);
  const pane = $('pane-cluster');
  pane.hidden = !r.cluster;
  if (r.cluster) {
    const tbody = $('rl-nodes').tBodies[0];
    const frag = document.createDocumentFragment();
    for (const n of r.cluster) {
      const tr = el('tr');
      const name = el('td', 'left mono', n.id);
      if (n.self) name.append(el('span', 'pill on', 'this node'));
      tr.append(name, el('td', 'num mono', fmtNum(n.connections)), el('td', 'num mono', fmtNum(n.channels)), el('td', 'num mono', fmtDur(now() - n.seenAt) + ' ago'));
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
  }
}

// ---------------------------------------------------------------- wiring

let filterTimer = 0;
$('filter').addEventListener('input', () => {
  if (latest) renderChannels();
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ q: filterText() }));
  }, 250);
});
for (const th of $('channels').tHead.rows[0].cells) {
  th.addEventListener('click', () => {
    const k = th.dataset.sort;
    if (sortKey === k) sortDir = -sortDir;
    else {
      sortKey = k;
      sortDir = k === 'name' || k === 'online' ? 1 : -1;
    }
    localStorage.setItem('sluice.sort', sortKey);
    localStorage.setItem('sluice.dir', String(sortDir));
    renderChannels();
  });
}
window.addEventListener('hashchange', route);
setInterval(() => {
  if (!$('view-channel').hidden && detail) renderDetailAges();
}, 1000);
route();
connect();
void refused;
