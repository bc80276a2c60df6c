// The demo is what a frontend team writes: list VMs, follow the `events` subscription, and hand noVNC a
// fresh console from the `openConsole` mutation for every (re)connect.
import RFB from '/novnc/core/rfb.js';

const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const vmsEl = $('vms');
const titleEl = $('console-title');
const screenEl = $('screen');
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
  buttons.fullscreen.disabled = !live;
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
  current = { vm, viewOnly, rfb: null, socket: null, superseded: false };
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
      closeReasonEl.textContent = close ? closeText(close.code, close.reason) : 'closed';
      closeReasonEl.dataset.code = close ? String(close.code) : '';
      session.rfb = null;
      setConsoleButtons('disconnected');
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
buttons.disconnect.addEventListener('click', () => current?.rfb?.disconnect());
buttons.ctrlAltDel.addEventListener('click', () => current?.rfb?.sendCtrlAltDel());
buttons.fullscreen.addEventListener('click', () => screenEl.requestFullscreen?.());
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
// `consoleRecordings` arrives with the recording work (issue 13). Until this gateway's schema has it the
// pane says so; it asks the schema (introspection) instead of guessing, and shows only fields it has.

const RECORDING_FIELDS = ['id', 'vmId', 'caller', 'startedAt', 'endedAt', 'bytes', 'playbackUrl', 'url'];

async function loadRecordings() {
  const pane = $('recordings');
  const { data } = await graphql('{ __type(name: "Query") { fields { name type { name kind ofType { name kind } } } } }');
  const field = data.__type?.fields.find((f) => f.name === 'consoleRecordings');
  if (!field) {
    pane.textContent = 'This gateway has no recordings API (consoleRecordings) yet.';
    pane.dataset.state = 'unsupported';
    return;
  }
  const typeName = field.type.name ?? field.type.ofType?.name;
  const nodeType = await graphql('query($t: String!) { __type(name: $t) { fields { name type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } }', { t: typeName });
  const nodesField = nodeType.data.__type.fields.find((f) => f.name === 'nodes');
  const unwrap = (t) => (t.ofType ? unwrap(t.ofType) : t);
  const itemType = nodesField ? unwrap(nodesField.type).name : typeName;
  const item = await graphql('query($t: String!) { __type(name: $t) { fields { name } } }', { t: itemType });
  const have = new Set(item.data.__type.fields.map((f) => f.name));
  const fields = RECORDING_FIELDS.filter((f) => have.has(f));
  const query = nodesField ? `{ consoleRecordings(first: 50) { nodes { ${fields.join(' ')} } } }` : `{ consoleRecordings(first: 50) { ${fields.join(' ')} } }`;
  const { data: list, errors } = await graphql(query);
  const recordings = nodesField ? list.consoleRecordings?.nodes ?? [] : list.consoleRecordings ?? [];
  pane.replaceChildren();
  pane.dataset.state = 'listed';
  if (errors?.length) pane.append(el('p', errors.map((e) => e.extensions?.code ?? e.message).join('; '), 'error'));
  if (recordings.length === 0) pane.append(el('p', 'no recordings'));
  const ul = el('ul');
  for (const r of recordings) {
    const li = el('li');
    const a = el('a', `${r.vmId ?? r.id}${r.startedAt ? ` ${new Date(r.startedAt).toLocaleString()}` : ''}`);
    a.href = r.playbackUrl ?? r.url ?? `/recordings/${encodeURIComponent(r.id)}`;
    a.target = '_blank';
    li.append(a);
    ul.append(li);
  }
  pane.append(ul);
}

// ---- start ------------------------------------------------------------------------------------------

loadVms().catch((err) => {
  statusEl.textContent = `could not list VMs: ${err.message}`;
  statusEl.className = 'error';
});
followEvents();
loadRecordings().catch((err) => {
  $('recordings').textContent = `could not list recordings: ${err.message}`;
});
