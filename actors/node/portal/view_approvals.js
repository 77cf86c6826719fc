// The System Operator's queue at the root: every CTSA whose signatories have all signed, waiting
// for approval or rejection, across the CTAs being agreed.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {decisionForm} from './decision.js';
import {atRoot, has} from './session.js';

export async function approvalsPage({go, message}) {
  if (!has('approver') || !atRoot())
    return {title: 'Approvals', nodes: [h('p', {}, 'Deciding on CTSAs needs the role approver, at the root node.')]};
  const list = (await api.get('/v1/ctas'))?.ctas ?? [];
  const emerging = list.filter((c) => c.status === 'emerging');
  const ctas = await Promise.all(emerging.map((c) => api.get(`/v1/ctas/${seg(c.uuid)}`)));
  const waiting = ctas.flatMap((cta) => (cta.addenda ?? []).filter((a) => a.status === 'signed')
    .map((a) => ({cta, addendum: a})));
  const items = waiting.map(({cta, addendum}) => h('li', {class: 'card'},
    h('h2', {}, h('a', {href: `#/ct/${seg(cta.uuid)}`}, cta.title || cta.uuid), `: ${addendum.peer}`),
    decisionForm(cta.uuid, addendum, (text) => go('#/approvals', text))));
  return {
    title: 'Approvals',
    nodes: [
      message ? h('p', {class: 'notice', role: 'status', id: 'notice'}, message) : null,
      h('p', {}, `${waiting.length} signed CTSA(s) waiting for a decision, in ${emerging.length} agreement(s) being made.`),
      waiting.length ? h('ul', {class: 'queue', id: 'queue'}, items) : null,
    ].filter(Boolean),
  };
}
