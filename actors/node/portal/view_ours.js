// The General Manager's view of the organisation's Computation Tasks: every CT this node holds,
// with its status, its phase and deadline, the organisation's part in it and who must act next,
// each a link to its page, where a live CT can be cancelled.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {has, session} from './session.js';
import {errorBox, table, when} from './ui.js';

/// The most CTs read one by one (the most recently changed first).
const shownAtMost = 100;

/// The organisation's part in `cta`: organiser, peer (input, output) or Computing Party.
function partOf(cta, self) {
  const c = cta.ctsc ?? {};
  const parts = [];
  if (c.organiser?.peer === self)
    parts.push('organiser');
  const peer = (c.peers ?? []).find((p) => p.fqdn === self);
  if (peer)
    parts.push(`peer (${String(peer.role ?? '').replace('PEER_ROLE_', '').toLowerCase().replaceAll('_', ' and ')})`);
  const cp = (c.computing_parties ?? []).findIndex((p) => p.fqdn === self);
  if (cp >= 0)
    parts.push(`Computing Party ${cp + 1}`);
  return parts.join(', ') || 'member';
}

function toDoText(cta, self) {
  const toDo = cta.progress?.to_do ?? [];
  if (toDo.length === 0)
    return 'nobody';
  const whom = [...new Set(toDo.map((t) => (t.who === self ? `${t.who} (us)` : t.who)))];
  return whom.join(', ');
}

function counts(ctas) {
  const n = (status) => ctas.filter((c) => c.status === status).length;
  return `${ctas.length} CT(s): ${n('emerging')} being agreed, ${n('instantiated')} agreed and running, `
    + `${n('finished')} finished, ${n('cancelled')} cancelled${n('erased') ? `, ${n('erased')} erased` : ''}.`;
}

export async function oursPage() {
  const self = session().node;
  const list = [...((await api.get('/v1/ctas'))?.ctas ?? [])]
    .sort((a, b) => Number(b.last_changed_ms) - Number(a.last_changed_ms));
  const read = await Promise.all(list.slice(0, shownAtMost).map((c) => api.get(`/v1/ctas/${seg(c.uuid)}`)
    .then((cta) => ({summary: c, cta}), (error) => ({summary: c, error}))));
  const rows = read.map(({summary, cta, error}) => {
    const phase = cta?.progress?.phase ?? summary.status;
    const until = Number(cta?.progress?.until_ms ?? 0);
    return [
      h('a', {href: `#/ct/${seg(summary.uuid)}`}, summary.title || '(no title)'),
      h('span', {class: `status status-${summary.status}`}, summary.status),
      error ? errorBox(error) : h('span', {class: 'ct-phase', 'data-phase': phase}, phase),
      until ? when(until) : '—',
      cta ? partOf(cta, self) : '',
      cta ? toDoText(cta, self) : '',
      when(summary.last_changed_ms),
    ];
  });
  return {
    title: 'Our CTs',
    nodes: [
      h('p', {}, `The Computation Tasks ${self} takes part in, as this node holds them.`),
      list.length ? h('p', {id: 'ours-summary'}, counts(list)) : null,
      list.length === 0 ? h('p', {}, 'This node holds no Computation Task Agreement yet.')
        : table('Our Computation Tasks, the latest change first',
          ['Title', 'Status', 'Phase', 'Phase ends', 'Our part', 'Who must act next', 'Last change'], rows, {id: 'ours'}),
      list.length > shownAtMost ? h('p', {}, `The ${shownAtMost} most recently changed are shown.`) : null,
      list.length ? h('p', {class: 'hint', id: 'cancel-note'}, 'A CT that is still live can be cancelled on its page, '
        + 'with the reason every member reads.') : null,
    ].filter(Boolean),
  };
}
