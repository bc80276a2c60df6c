// The demo is what a frontend team writes: list VMs, follow the `events` subscription, and hand noVNC a
// fresh console from the `openConsole` mutation for every (re)connect.
import RFB from '/novnc/core/rfb.js';

const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const vmsEl = $('vms');
const titleEl = $('console-title');
const screenEl = $('screen');
const consoleFrameEl = $('console-frame');
const closeReasonEl = $('close-reason');
const viewOnlyEl = $('view-only');
const clipboardEl = $('clipboard');
const buttons = {
  reconnect: $('reconnect'),
  disconnect: $('disconnect'),
  ctrlAltDel: $('ctrl-alt-del'),
  fullscreen: $('fullscreen'),
  clipboardSend: $('clipboard-send'),
};

// The gateway refuses consoles for these (CONSOLE_UNAVAILABLE): no button, and say why.
const NO_CONSOLE = {
  STOPPED: 'the VM is stopped',
  NOT_DEPLOYED: 'the VM is not deployed',
  DELETED: 'the VM was deleted',
};
// What the common close codes mean when the gateway sent no reason (README "Console" lists them all).
const CLOSE_TEXT = { 1000: 'closed normally', 1001: 'the gateway is going away', 1006: 'connection lost (no close frame)' };

/** The console now on screen: its VM, whether it is view-only, its noVNC instance and WebSocket. */
let current = null;
/** VM names by id, from the last listing: the recordings pane names VMs the way the list does. */
const vmNames = new Map();

async function graphql(query, variables) {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors?.length && !body.data) throw new Error(body.errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; '));
  return body;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// ---- VMs -------------------------------------------------------------------------------------------

async function loadVms() {
  const { data, errors } = await graphql('{ vms(first: 200) { nodes { id name status provider { name kind } } } }');
  vmsEl.replaceChildren();
  for (const vm of data.vms.nodes) {
    vmNames.set(vm.id, vm.name);
    const tr = el('tr');
    tr.dataset.vmId = vm.id;
    tr.dataset.status = vm.status;
    const action = el('td');
    const why = NO_CONSOLE[vm.status];
    if (why) {
      action.append(el('span', `no console: ${why}`, 'why'));
    } else {
      const open = el('button', 'console');
      open.dataset.vmId = vm.id;
      open.addEventListener('click', () => openConsole(vm));
      action.append(open);
    }
    tr.append(el('td', vm.name), el('td', `${vm.provider.name} (${vm.provider.kind.toLowerCase()})`), el('td', vm.status), action);
    vmsEl.append(tr);
  }
  statusEl.textContent = `${data.vms.nodes.length} VMs` + (errors?.length ? ` (some providers failed: ${errors.map((e) => e.extensions?.provider).join(', ')})` : '');
}

let reloadTimer = null;
/** VM status changes arrive as events (Abiquo) or not at all (CloudTower): reload soon after events, and now and then. */
function reloadVmsSoon(delayMs = 500) {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadVms().catch(() => {}), delayMs);
}
setInterval(() => reloadVmsSoon(0), 30_000);

// ---- console ----------------------------------------------------------------------------------------

function setConsoleButtons(state) {
  const live = state === 'connected';
  buttons.reconnect.disabled = !current;
  buttons.disconnect.disabled = !live;
  // Leaving fullscreen stays possible after the console ends.
  buttons.fullscreen.disabled = !live && !document.fullscreenElement;
  buttons.ctrlAltDel.disabled = !live || current.viewOnly;
  buttons.clipboardSend.disabled = !live || current.viewOnly;
  document.body.dataset.console = state;
}

function closeText(code, reason) {
  return `closed: ${code}${reason ? ` ${reason}` : CLOSE_TEXT[code] ? ` ${CLOSE_TEXT[code]}` : ''}`;
}

async function openConsole(vm, viewOnly = viewOnlyEl.checked) {
  if (current?.rfb) {
    current.superseded = true;
    current.rfb.disconnect();
  }
  const mode = viewOnly ? ' (view-only)' : '';
  current = { vm, viewOnly, rfb: null, socket: null, superseded: false, disconnectedHere: false };
  const session = current;
  titleEl.textContent = `${vm.name}${mode}: asking for a console…`;
  titleEl.className = '';
  closeReasonEl.textContent = '';
  setConsoleButtons('connecting');
  try {
    // A mutation, a fresh single-use ticket every time: never reuse a URL, not even to reconnect.
    const { data, errors } = await graphql(
      'mutation($id: ID!, $viewOnly: Boolean) { openConsole(vmId: $id, viewOnly: $viewOnly) { url protocols expiresAt } }',
      { id: vm.id, viewOnly },
    );
    if (!data.openConsole) throw new Error(errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; '));
    if (session !== current) return;
    // Our own WebSocket, handed to noVNC: noVNC's disconnect event has no close code, this socket does.
    const socket = new WebSocket(data.openConsole.url, data.openConsole.protocols);
    socket.binaryType = 'arraybuffer';
    session.socket = socket;
    socket.addEventListener('close', (e) => {
      session.close = { code: e.code, reason: e.reason };
    });
    const rfb = new RFB(screenEl, socket);
    session.rfb = rfb;
    rfb.scaleViewport = true;
    rfb.viewOnly = viewOnly; // the gateway enforces it; this only stops noVNC sending what would be dropped
    rfb.addEventListener('connect', () => {
      if (session !== current) return;
      titleEl.textContent = `${vm.name}${mode}: connected`;
      setConsoleButtons('connected');
    });
    rfb.addEventListener('disconnect', (e) => {
      if (session !== current || session.superseded) return;
      const close = session.close;
      titleEl.textContent = `${vm.name}${mode}: disconnected${e.detail.clean ? '' : ' (connection lost)'}`;
      // Closed from this page the socket reports 1005 (no code sent): say what happened instead.
      closeReasonEl.textContent = session.disconnectedHere ? 'closed: you disconnected' : close ? closeText(close.code, close.reason) : 'closed';
      closeReasonEl.dataset.code = close ? String(close.code) : '';
      session.rfb = null;
      setConsoleButtons('disconnected');
      recordingsAfterClose();
    });
    rfb.addEventListener('clipboard', (e) => {
      clipboardEl.value = e.detail.text;
    });
    rfb.addEventListener('credentialsrequired', () => {
      titleEl.textContent = `${vm.name}: the console asked for a password (the gateway should have answered it)`;
      titleEl.className = 'error';
    });
  } catch (err) {
    if (session !== current) return;
    titleEl.textContent = `${vm.name}${mode}: ${err.message}`;
    titleEl.className = 'error';
    setConsoleButtons('failed');
    if (err.message.startsWith('CONSOLE_UNAVAILABLE')) reloadVmsSoon(0);
  }
}

buttons.reconnect.addEventListener('click', () => current && openConsole(current.vm, viewOnlyEl.checked));
buttons.disconnect.addEventListener('click', () => {
  if (!current?.rfb) return;
  current.disconnectedHere = true;
  current.rfb.disconnect();
});
buttons.ctrlAltDel.addEventListener('click', () => current?.rfb?.sendCtrlAltDel());
buttons.fullscreen.addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else consoleFrameEl.requestFullscreen?.();
});
// The browser also leaves fullscreen by itself (Escape): the button follows the document, not its own clicks.
document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement === consoleFrameEl;
  buttons.fullscreen.textContent = on ? 'exit fullscreen' : 'fullscreen';
  buttons.fullscreen.setAttribute('aria-pressed', String(on));
  setConsoleButtons(document.body.dataset.console);
});
buttons.clipboardSend.addEventListener('click', () => current?.rfb?.clipboardPasteFrom(clipboardEl.value));
// Changing the mode of a live console reconnects it in the new mode (a new ticket, a new session).
viewOnlyEl.addEventListener('change', () => {
  if (current && document.body.dataset.console === 'connected') openConsole(current.vm, viewOnlyEl.checked);
});

// For the browser console (and the tests that play a modified client): the live noVNC instance.
window.demo = { get rfb() { return current?.rfb ?? null; } };

// ---- live events ------------------------------------------------------------------------------------

const MAX_EVENTS = 200;
const eventsEl = $('events');
const eventsStateEl = $('events-state');

function showEvent(event) {
  const li = el('li');
  li.dataset.pattern = `${event.type}.${event.action}`;
  li.append(
    el('time', new Date(event.time).toLocaleTimeString()),
    el('span', `${event.source.toLowerCase()}/${event.provider}`, 'source'),
    el('code', `${event.type}.${event.action}.${event.key}`),
  );
  if (event.principal) li.append(el('span', `by ${event.principal}`, 'principal'));
  eventsEl.prepend(li);
  while (eventsEl.children.length > MAX_EVENTS) eventsEl.lastElementChild.remove();
}

function followEvents() {
  const { createClient } = window.graphqlWs;
  const client = createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    on: {
      connected: () => { eventsStateEl.textContent = 'live'; eventsStateEl.className = 'live'; },
      closed: (e) => { eventsStateEl.textContent = `reconnecting (${e?.code ?? 'closed'})`; eventsStateEl.className = 'error'; },
    },
  });
  let lastId = null;
  const subscribe = () =>
    client.subscribe(
      // Resume after the last event seen, so a reconnect neither loses nor repeats any.
      { query: 'subscription($after: ID) { events(after: $after) { id source provider time type action key principal } }', variables: { after: lastId } },
      {
        next: ({ data, errors }) => {
          if (errors?.length) eventsStateEl.textContent = errors.map((e) => e.extensions?.code ?? e.message).join('; ');
          if (!data?.events) return;
          lastId = data.events.id;
          showEvent(data.events);
          if (data.events.source === 'ABIQUO') reloadVmsSoon();
          // Any console, not only this page's: every one opened or closed may start or finish a recording.
          if (data.events.type === 'consoles' && data.events.action === 'opened') reloadRecordingsSoon();
          if (data.events.type === 'consoles' && data.events.action === 'closed') recordingsAfterClose();
        },
        // EVENTS_EXPIRED and the like: start again from now.
        error: (err) => {
          eventsStateEl.textContent = `ended: ${Array.isArray(err) ? err.map((e) => e.extensions?.code ?? e.message).join('; ') : err?.reason ?? err?.message ?? err}`;
          eventsStateEl.className = 'error';
          lastId = null;
          setTimeout(subscribe, 2000);
        },
        complete: () => {},
      },
    );
  subscribe();
}

// ---- recordings -------------------------------------------------------------------------------------

const recordingsEl = $('recordings');
const RECORDING_STATE_TEXT = { RECORDING: 'recording…', FAILED: 'stopped early', CORRUPT: 'cannot be played' };

function duration(ms) {
  if (ms == null) return '';
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function showRecording(r) {
  const li = el('li');
  li.dataset.recordingId = r.id;
  li.dataset.state = r.state;
  const a = el('a', vmNames.get(r.vmId) ?? r.vmId ?? r.id);
  a.href = r.playbackUrl;
  a.target = '_blank';
  a.rel = 'noopener';
  a.title = r.vmId ?? r.id;
  // The URL's signed token expires (recording.playbackUrlTtlSeconds, 10 s at the least): ask for a fresh one on click.
  a.addEventListener('click', async (e) => {
    e.preventDefault();
    const fresh = await graphql('query($id: ID!) { consoleRecording(id: $id) { playbackUrl } }', { id: r.id }).catch(() => null);
    window.open(fresh?.data?.consoleRecording?.playbackUrl ?? r.playbackUrl, '_blank', 'noopener');
  });
  li.append(a, el('span', [new Date(r.startedAt).toLocaleString(), duration(r.durationMs)].filter(Boolean).join(' · '), 'meta'));
  if (r.state !== 'COMPLETE') li.append(el('span', RECORDING_STATE_TEXT[r.state] + (r.failure ? ` (${r.failure})` : ''), 'state'));
  return li;
}

/** Polls left to catch a recording's end: its status reaches the disk a moment after `consoles.closed`. */
let settlePolls = 0;
let recordingsTimer = null;

async function loadRecordings() {
  const { data, errors } = await graphql('{ consoleRecordings(first: 50) { nodes { id vmId startedAt durationMs state failure playbackUrl } } }');
  const recordings = data.consoleRecordings.nodes;
  recordingsEl.replaceChildren();
  recordingsEl.className = '';
  if (errors?.length) recordingsEl.append(el('p', errors.map((e) => e.extensions?.code ?? e.message).join('; '), 'error'));
  const ul = el('ul');
  ul.append(...recordings.map(showRecording));
  recordingsEl.append(recordings.length > 0 ? ul : el('p', 'no recordings yet (consoles are recorded once the gateway has recording.dir set)', 'hint'));
  recordingsEl.dataset.state = 'listed';
  if (settlePolls > 0 && recordings.some((r) => r.state === 'RECORDING')) {
    settlePolls--;
    reloadRecordingsSoon(500);
  }
}

function reloadRecordingsSoon(delayMs = 250) {
  clearTimeout(recordingsTimer);
  recordingsTimer = setTimeout(() => loadRecordings().catch(showRecordingsError), delayMs);
}

/** A console ended: list again until its recording is no longer RECORDING (a few tries, then the next event or interval). */
function recordingsAfterClose() {
  settlePolls = 8;
  reloadRecordingsSoon();
}

function showRecordingsError(err) {
  // FORBIDDEN: this caller is not in auth.recordingViewers.
  recordingsEl.textContent = `could not list recordings: ${err.message}`;
  recordingsEl.className = 'error';
  recordingsEl.dataset.state = 'error';
}
setInterval(() => reloadRecordingsSoon(0), 60_000);

// ---- start ------------------------------------------------------------------------------------------

// Recordings after VMs: the pane names each recording's VM as the list does.
loadVms()
  .catch((err) => {
    statusEl.textContent = `could not list VMs: ${err.message}`;
    statusEl.className = 'error';
  })
  .finally(() => loadRecordings().catch(showRecordingsError));
followEvents();
