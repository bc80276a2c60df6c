/**
 * The playback page and its script. The script fetches the recording, parses it (format.ts), and
 * hands noVNC a channel object instead of a WebSocket URL: noVNC reads the recorded server bytes
 * from it at their recorded times, and what noVNC sends (its handshake answers, update requests)
 * is swallowed. Seeking backwards restarts noVNC and replays up to the new position at once.
 */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function playerPage(opts: { id: string; state: string; problem: string | null }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Recording ${escapeHtml(opts.id)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#222;color:#eee}
#bar{display:flex;gap:.5em;align-items:center;padding:.5em}
#screen{width:100vw;height:calc(100vh - 3em)}
#status[data-kind=error]{color:#f88}
</style></head>
<body data-player="loading" data-recording-id="${escapeHtml(opts.id)}" data-recording-state="${escapeHtml(opts.state)}">
<div id="bar">
<button id="play" type="button" disabled>Play</button>
<button id="pause" type="button" disabled>Pause</button>
<label>Speed <select id="speed" disabled><option value="0.5">0.5×</option><option value="1" selected>1×</option><option value="2">2×</option><option value="4">4×</option><option value="16">16×</option></select></label>
<input id="seek" type="range" min="0" max="0" value="0" step="100" aria-label="Position" disabled>
<span id="position">0.0 s / 0.0 s</span>
<span id="status"${opts.problem ? ' data-kind="error"' : ''}>${opts.problem ? `This recording cannot be played: ${escapeHtml(opts.problem)}` : ''}</span>
</div>
<div id="screen"></div>
<script type="module" src="/recordings/player.js"></script>
</body></html>`;
}

export const PLAYER_JS = String.raw`
import RFB from '/recordings/novnc/core/rfb.js';

const body = document.body;
const statusEl = document.getElementById('status');
const positionEl = document.getElementById('position');
const seekEl = document.getElementById('seek');
const speedEl = document.getElementById('speed');
const screenEl = document.getElementById('screen');

function fail(message) {
  statusEl.textContent = message;
  statusEl.dataset.kind = 'error';
  body.dataset.player = 'error';
}

/** Header line and frames; a truncated last frame is reported and left out. */
function parse(bytes) {
  const nl = bytes.indexOf(10);
  if (nl < 0 || nl > 4096) throw new Error('header missing or truncated');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl)));
  if (header.format !== 'console-gateway-recording' || header.version !== 1) throw new Error('not a version 1 console-gateway recording');
  const frames = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = nl + 1;
  let truncated = false;
  while (at < bytes.length) {
    if (bytes.length - at < 9) { truncated = true; break; }
    const direction = bytes[at];
    const ms = view.getUint32(at + 1);
    const len = view.getUint32(at + 5);
    if (direction > 1) throw new Error('unknown frame direction at byte ' + at);
    if (at + 9 + len > bytes.length) { truncated = true; break; }
    if (direction === 0) frames.push({ ms, data: bytes.slice(at + 9, at + 9 + len).buffer });
    at += 9 + len;
  }
  return { header, frames, truncated };
}

/** What noVNC gets instead of a WebSocket: it reads recorded bytes and its own messages go nowhere. */
class ReplayChannel {
  constructor() {
    this.binaryType = 'arraybuffer';
    this.protocol = 'binary';
    this.readyState = 'connecting';
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
  }
  send(_data) {}
  close() {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    if (this.onclose) this.onclose({ code: 1000, reason: 'playback closed', wasClean: true });
  }
  open() {
    this.readyState = 'open';
    if (this.onopen) this.onopen({});
  }
  deliver(data) {
    if (this.readyState === 'open' && this.onmessage) this.onmessage({ data });
  }
}

class Player {
  constructor(recording) {
    this.frames = recording.frames;
    this.durationMs = this.frames.length ? this.frames[this.frames.length - 1].ms : 0;
    this.positionMs = 0;
    this.next = 0;
    this.speed = 1;
    this.playing = false;
    this.timer = null;
    this.lastTick = 0;
    seekEl.max = String(this.durationMs);
    this.restart();
  }
  restart() {
    if (this.rfb) { try { this.rfb.disconnect(); } catch {} screenEl.textContent = ''; }
    this.channel = new ReplayChannel();
    this.rfb = new RFB(screenEl, this.channel, { shared: true });
    this.rfb.viewOnly = true;
    this.rfb.scaleViewport = false;
    // A recording of a console whose VNC password the browser typed: any answer will do, the recorded result follows.
    this.rfb.addEventListener('credentialsrequired', () => this.rfb.sendCredentials({ password: 'playback' }));
    this.channel.open();
    this.next = 0;
    this.positionMs = 0;
  }
  /** Deliver every frame up to \`ms\`. */
  advanceTo(ms) {
    while (this.next < this.frames.length && this.frames[this.next].ms <= ms) {
      this.channel.deliver(this.frames[this.next].data);
      this.next++;
    }
    this.positionMs = Math.min(ms, this.durationMs);
    this.show();
    if (this.next >= this.frames.length && this.playing) {
      this.pause();
      body.dataset.player = 'ended';
    }
  }
  seek(ms) {
    if (ms < this.positionMs) this.restart();
    this.advanceTo(ms);
  }
  play() {
    if (this.playing) return;
    if (this.next >= this.frames.length) this.seek(0);
    this.playing = true;
    body.dataset.player = 'playing';
    this.lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const step = (now - this.lastTick) * this.speed;
      this.lastTick = now;
      this.advanceTo(this.positionMs + step);
    }, 25);
  }
  pause() {
    this.playing = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (body.dataset.player === 'playing') body.dataset.player = 'paused';
  }
  show() {
    positionEl.textContent = (this.positionMs / 1000).toFixed(1) + ' s / ' + (this.durationMs / 1000).toFixed(1) + ' s';
    seekEl.value = String(Math.round(this.positionMs));
  }
}

async function main() {
  if (statusEl.dataset.kind === 'error') { body.dataset.player = 'error'; return; }
  const id = body.dataset.recordingId;
  const token = new URLSearchParams(location.search).get('t') || '';
  const res = await fetch('/recordings/' + encodeURIComponent(id) + '/data?t=' + encodeURIComponent(token));
  if (!res.ok) return fail('This recording could not be loaded (' + res.status + ').');
  let recording;
  try {
    recording = parse(new Uint8Array(await res.arrayBuffer()));
  } catch (err) {
    return fail('This recording cannot be played: ' + err.message);
  }
  const player = new Player(recording);
  window.player = player;
  if (recording.truncated) { statusEl.textContent = 'The recording is truncated: it plays up to where it stops.'; statusEl.dataset.kind = 'warning'; }
  document.getElementById('play').onclick = () => player.play();
  document.getElementById('pause').onclick = () => player.pause();
  speedEl.onchange = () => { player.speed = Number(speedEl.value); };
  seekEl.oninput = () => player.seek(Number(seekEl.value));
  player.show();
  // The controls stay disabled on a page that cannot play (a damaged file, a failed fetch): nothing to control.
  for (const control of document.querySelectorAll('#bar button, #bar select, #bar input')) control.disabled = false;
  body.dataset.player = 'ready';
  body.dataset.truncated = String(recording.truncated);
}

main().catch((err) => fail('Playback failed: ' + (err && err.message)));
`;
