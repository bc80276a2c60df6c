// The demo is what a frontend team writes: ask the gateway for VMs, then for a console URL, and hand it to noVNC.
import RFB from '/novnc/core/rfb.js';

const statusEl = document.getElementById('status');
const vmsEl = document.getElementById('vms');
const titleEl = document.getElementById('console-title');
const screenEl = document.getElementById('screen');
let rfb = null;

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

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

async function loadVms() {
  const { data, errors } = await graphql('{ vms(first: 200) { nodes { id name status provider { name kind } } } }');
  vmsEl.replaceChildren();
  for (const vm of data.vms.nodes) {
    const tr = document.createElement('tr');
    tr.dataset.vmId = vm.id;
    const open = document.createElement('button');
    open.textContent = 'console';
    open.dataset.vmId = vm.id;
    open.addEventListener('click', () => openConsole(vm));
    const action = document.createElement('td');
    action.append(open);
    tr.append(cell(vm.name), cell(`${vm.provider.name} (${vm.provider.kind.toLowerCase()})`), cell(vm.status), action);
    vmsEl.append(tr);
  }
  statusEl.textContent = `${data.vms.nodes.length} VMs` + (errors?.length ? ` (some providers failed: ${errors.map((e) => e.extensions?.provider).join(', ')})` : '');
}

async function openConsole(vm) {
  if (rfb) rfb.disconnect();
  titleEl.textContent = `${vm.name}: asking for a console…`;
  titleEl.className = '';
  try {
    // A fresh URL for every (re)connect: gateway tickets are single-use and short-lived.
    const { data } = await graphql('query($id: ID!) { console(vmId: $id) { url protocols expiresAt } }', { id: vm.id });
    rfb = new RFB(screenEl, data.console.url, { wsProtocols: data.console.protocols });
    rfb.scaleViewport = true;
    rfb.addEventListener('connect', () => {
      titleEl.textContent = `${vm.name}: connected`;
      document.body.dataset.console = 'connected';
    });
    rfb.addEventListener('disconnect', (e) => {
      titleEl.textContent = `${vm.name}: disconnected${e.detail.clean ? '' : ' (connection lost)'}`;
      document.body.dataset.console = 'disconnected';
    });
    rfb.addEventListener('credentialsrequired', () => {
      titleEl.textContent = `${vm.name}: the console asked for a password (the gateway should have answered it)`;
      titleEl.className = 'error';
    });
  } catch (err) {
    titleEl.textContent = `${vm.name}: ${err.message}`;
    titleEl.className = 'error';
  }
}

loadVms().catch((err) => {
  statusEl.textContent = `could not list VMs: ${err.message}`;
  statusEl.className = 'error';
});
