// The CTAs this node holds, newest change first, each a link to its page.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {has} from './session.js';
import {table, when} from './ui.js';

export async function ctasPage() {
  const doc = await api.get('/v1/ctas');
  const ctas = [...(doc?.ctas ?? [])].sort((a, b) => Number(b.last_changed_ms) - Number(a.last_changed_ms));
  const list = ctas.length === 0
    ? h('p', {}, 'This node holds no Computation Task Agreement yet.')
    : table('Computation Task Agreements at this node',
      ['Title', 'Status', 'Last change', 'Identifier'],
      ctas.map((c) => [
        h('a', {href: `#/ct/${seg(c.uuid)}`}, c.title || '(no title)'),
        h('span', {class: `status status-${c.status}`}, c.status),
        when(c.last_changed_ms),
        h('code', {}, c.uuid),
      ]), {id: 'cta-list'});
  return {
    title: 'Agreements',
    nodes: [
      has('task_organiser') ? h('p', {}, h('a', {href: '#/draft', class: 'button'}, 'Draft a new task')) : null,
      list,
    ].filter(Boolean),
  };
}
