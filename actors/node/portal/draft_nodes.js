// The nodes the drafting form offers: the node's trusted view (GET /v1/nodes: the node itself, its
// parent and children, and every member of the CTs it holds), the Computing Parties for the task's
// three, the peers (this node first) for its inputs. A node not known here yet is typed by its
// FQDN; without the list (an older node, a refusal) every node is typed.

import {api} from './api.js';
import {h, uid} from './dom.js';
import {field} from './ui.js';

/// The value of the choice "another node", which shows the field to type its FQDN (no FQDN: it has
/// no dot).
const other = 'another';

/// How a node's trust state reads next to its name.
const trustText = {self: 'this node', confirmed: 'confirmed here', unconfirmed: 'unconfirmed here'};

/// The nodes of `all` with `keep`, each FQDN once, in the node's order.
function distinct(all, keep) {
  const seen = new Set();
  return all.filter((n) => keep(n) && !seen.has(n.fqdn) && seen.add(n.fqdn));
}

/// The nodes this node knows: {self, computingParties, peers, problem}; `problem` says why there is
/// no list ('' when there is one).
export async function knownNodes() {
  let doc;
  try {
    doc = await api.get('/v1/nodes');
  } catch (e) {
    const problem = e.status === 404 ? 'this node does not list the nodes it knows (an older version)'
      : `the node's list of the nodes it knows could not be read: ${e.message}`;
    return {self: '', computingParties: [], peers: [], problem};
  }
  const self = typeof doc?.self === 'string' ? doc.self : '';
  const nodes = (Array.isArray(doc?.nodes) ? doc.nodes : []).filter((n) => n && typeof n.fqdn === 'string' && n.fqdn);
  const mine = nodes.find((n) => n.fqdn === self) ?? (self ? {fqdn: self, trust: 'self'} : null);
  return {
    self,
    computingParties: distinct(nodes, (n) => n.role === 'computing_party'),
    peers: distinct([mine, ...nodes].filter(Boolean), (n) => n.fqdn === self || n.role === 'peer'),
    problem: '',
  };
}

/// How node `n` is offered: "cp3.joconde.test — Computing Party Three (unconfirmed here)".
export function nodeLabel(n) {
  const trust = trustText[n.trust] ?? '';
  const about = [n.organisation, trust ? `(${trust})` : ''].filter(Boolean).join(' ');
  return about ? `${n.fqdn} — ${about}` : n.fqdn;
}

/// A choice of one node among `offered`, or another typed by its FQDN: {row, value(), control()}
/// (`control`: the element the keyboard goes to).
/// Without nodes to offer it is the field to type the FQDN. `choose` is the text of the option that
/// chooses none yet.
export function nodeChoice(offered, {id = uid('node'), label, hint = '', choose}) {
  const typedAttrs = {type: 'text', spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off',
    class: 'fqdn'};
  if (!offered.length) {
    const typed = field(label, 'input', {...typedAttrs, id},
      [hint, 'Type its node\'s FQDN.'].filter(Boolean).join(' '));
    return {row: typed.row, value: () => typed.input.value.trim(), control: () => typed.input};
  }
  const pick = field(label, 'select', {id}, hint);
  pick.input.append(h('option', {value: ''}, choose),
    ...offered.map((n) => h('option', {value: n.fqdn}, nodeLabel(n))),
    h('option', {value: other}, 'Another node: type its FQDN'));
  const typed = field(`${label}: its FQDN`, 'input', {...typedAttrs, id: `${id}-fqdn`, disabled: true},
    'The name in its node\'s certificate, such as client-c.example.org.');
  typed.row.hidden = true;
  pick.input.addEventListener('change', () => {
    const typing = pick.input.value === other;
    typed.row.hidden = !typing;
    typed.input.disabled = !typing;
  });
  return {
    row: h('div', {class: 'node-choice'}, pick.row, typed.row),
    value: () => (pick.input.value === other ? typed.input.value.trim() : pick.input.value),
    control: () => (pick.input.value === other ? typed.input : pick.input),
  };
}
