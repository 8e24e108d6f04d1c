// The topology page of `GET /ui`: one self-contained HTML document (no build step, no external
// resource) that polls `ui/state` every second and redraws every group, the coordinator's
// pg_dist_node and poolinfo, pauses and recent history. Data goes into the page as text only.
export const UI_REFRESH_MS = 1000;

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1f24; background: #f6f7f9; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 0 0 .5em; }
#status { color: #57606a; margin-bottom: 1em; } #status.stale { color: #b42318; font-weight: 600; }
.groups { display: flex; flex-wrap: wrap; gap: 1em; } section { margin-bottom: 1.5em; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .8em 1em; min-width: 30em; }
.card.paused { border-color: #bf8700; } .badge { border-radius: 1em; padding: 0 .6em; font-size: .85em; }
.badge.pause { background: #fff1c2; } .badge.nolead { background: #ffd7d5; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .15em .5em; }
th { font-weight: 600; color: #57606a; border-bottom: 1px solid #d0d7de; }
tr.leader td { font-weight: 600; } td.bad { color: #b42318; } .muted { color: #57606a; }
ul { margin: .3em 0 0; padding-left: 1.2em; }
`;

const SCRIPT = `
const REFRESH_MS = ${UI_REFRESH_MS};
const NODE_HEAD = ['nodeid', 'group', 'node', 'role', 'active', 'metadata', 'poolinfo'];
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}
function bytes(n) {
  if (n === null || n === undefined) return '';
  if (typeof n !== 'number') return String(n);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}
function tags(t) {
  return Object.entries(t || {})
    .filter(([k, v]) => !(k === 'failover_priority' && v === 1))
    .map(([k, v]) => k + '=' + v)
    .join(' ');
}
function progress(p) {
  if (!p || typeof p !== 'object') return '';
  return p.percent !== null && p.percent !== undefined ? ' ' + p.percent + '%' : ' ' + bytes(p.done_kb * 1024);
}
function groupName(g) {
  return g.group === null ? 'cluster' : g.group === 0 ? 'Group 0 (coordinator)' : 'Group ' + g.group;
}
function memberRow(m) {
  return el('tr', { class: m.role === 'leader' ? 'leader' : '', 'data-member': m.name, 'data-role': m.role },
    el('td', { 'data-field': 'name' }, m.name),
    el('td', { 'data-field': 'role' }, m.role),
    el('td', { 'data-field': 'pg_role' }, m.pg_role || ''),
    el('td', { 'data-field': 'state', class: m.state === 'running' ? '' : 'bad' },
      m.state + progress(m.clone_progress)),
    el('td', { 'data-field': 'address' }, m.address || ''),
    el('td', { 'data-field': 'timeline' }, m.timeline ?? ''),
    el('td', { 'data-field': 'lag' }, m.role === 'leader' ? '' : bytes(m.lag)),
    el('td', { 'data-field': 'pending_restart' }, m.pending_restart ? '*' : ''),
    el('td', { 'data-field': 'tags', class: 'muted' }, tags(m.tags)));
}
function groupCard(g, pausedGroups) {
  const paused = pausedGroups.has(g.group);
  const head = ['Member', 'Role', 'PG role', 'State', 'Address', 'TL', 'Lag', 'Pending restart', 'Tags'];
  const cls = 'card' + (paused ? ' paused' : '');
  return el('div', { class: cls, 'data-group': g.group ?? 'none' },
    el('h2', {}, groupName(g), ' ',
      g.leader
        ? el('span', { class: 'muted' }, 'leader ' + g.leader)
        : el('span', { class: 'badge nolead' }, 'no leader'),
      g.paused ? el('span', { class: 'badge pause' }, ' maintenance ') : null,
      paused ? el('span', { class: 'badge pause', 'data-pause': 'open' }, ' writes paused ') : null),
    el('table', {}, el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))),
      el('tbody', {}, g.members.map(memberRow))),
    g.history.length === 0 ? null : el('div', { class: 'muted' }, 'History',
      el('ul', {}, g.history.slice().reverse().map(historyItem))));
}
function historyItem(h) {
  const when = h[3] ? ' (' + h[3] + ')' : '';
  const who = h[4] ? ', new leader ' + h[4] : '';
  return el('li', {}, 'TL ' + h[0] + ' at ' + h[1] + ': ' + h[2] + when + who);
}
function citusSection(citus) {
  if (citus === null) return null;
  if (citus.error !== undefined)
    return el('section', { id: 'citus' },
      el('h2', {}, 'Coordinator metadata'), el('div', { class: 'bad' }, citus.error));
  const body = citus.body || {};
  const meta = body.metadata;
  const pool = new Map(((meta && meta.pg_dist_poolinfo) || []).map((p) => [p.nodeid, p.poolinfo]));
  const pauses = body.pauses || {};
  const rows = ((meta && meta.pg_dist_node) || []).map((n) =>
    el('tr', { 'data-node': n.nodeid, 'data-group': n.groupid, 'data-noderole': n.noderole },
      el('td', {}, n.nodeid), el('td', {}, n.groupid),
      el('td', {}, n.nodename + ':' + n.nodeport), el('td', {}, n.noderole),
      el('td', { class: n.isactive ? '' : 'bad' }, n.isactive ? 'active' : 'inactive'),
      el('td', {}, n.hasmetadata ? (n.metadatasynced ? 'synced' : 'not synced') : ''),
      el('td', { class: 'muted' }, pool.get(n.nodeid) || '')));
  const ended = pauses.durationsMs || [];
  return el('section', { id: 'citus' },
    el('h2', {}, 'Coordinator metadata ',
      el('span', { class: 'muted' }, 'from ' + citus.from + (meta ? ', read ' + meta.read_at : ''))),
    el('table', {},
      el('thead', {}, el('tr', {}, NODE_HEAD.map((h) => el('th', {}, h)))),
      el('tbody', { id: 'pg-dist-node' }, rows)),
    el('div', { id: 'pauses' },
      'Pauses: open ', JSON.stringify(pauses.open || []), ', held ', JSON.stringify(pauses.held || []),
      '; opened ', pauses.opened ?? 0, ', committed ', pauses.committed ?? 0, ', rolled back ', pauses.rolledBack ?? 0,
      ended.length ? '; last ' + ended.slice(-5).join(', ') + ' ms' : ''),
    body.membership_waiting ? el('div', { class: 'bad' }, 'Adds and removes wait: ' + body.membership_waiting) : null);
}
let last = 0;
async function refresh() {
  const status = document.getElementById('status');
  try {
    const res = await fetch('ui/state', { cache: 'no-store' });
    const state = await res.json();
    const body = (state.citus && state.citus.body) || {};
    const open = new Set((body.pauses && body.pauses.open) || []);
    document.getElementById('scope').textContent = state.scope;
    document.getElementById('groups').replaceChildren(...state.groups.map((g) => groupCard(g, open)));
    const citus = citusSection(state.citus);
    document.getElementById('citus-slot').replaceChildren(...(citus ? [citus] : []));
    last = Date.now();
    status.className = state.error ? 'stale' : '';
    const served = 'served by ' + state.served_by + ', updated ' + new Date().toLocaleTimeString();
    status.textContent = (state.error ? state.error + '; ' : '') + served;
  } catch (err) {
    status.className = 'stale';
    const ago = last ? Math.round((Date.now() - last) / 1000) + ' s ago' : 'never';
    status.textContent = 'cannot refresh (' + err + '); last update ' + ago;
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
`;

export const UI_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shardherd topology</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Shardherd: <span id="scope"></span></h1>
<div id="status">loading…</div>
<div id="citus-slot"></div>
<section><div class="groups" id="groups"></div></section>
<script>${SCRIPT}</script>
</body>
</html>
`;
