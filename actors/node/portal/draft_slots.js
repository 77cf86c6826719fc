// The drafting form's inputs and outputs, groups that repeat ("Add an input", "Remove input 2"):
// an input's peer (whose Data Custodians upload it), its schema, its most rows and its data-quality
// check; an output's schema and its readers (checkboxes of the peers the inputs name, and others
// typed by FQDN).

import {h} from './dom.js';
import {nodeChoice} from './draft_nodes.js';
import {field} from './ui.js';

const sqlAttrs = {spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off', class: 'code'};

/// The texts of `list`, blanks left out, each once, in order.
function distinct(list) {
  return [...new Set(list.map((t) => t.trim()).filter(Boolean))];
}

/// One input: its fieldset and how to read and reach its fields.
function inputGroup(id, peers) {
  const peer = nodeChoice(peers, {id: `${id}-peer`, label: 'Peer that uploads it', choose: 'Choose the peer',
    hint: 'The organisation whose Data Custodians upload this input (at its node).'});
  const table = field('Schema', 'textarea', {...sqlAttrs, id: `${id}-table`, rows: 6},
    'One CREATE TABLE statement; the table\'s name is the input\'s name. Column types KEY, INTEGER, '
    + 'DECIMAL(p, s), BOOLEAN, CATEGORY (\'a\', \'b\'); constraints RANGE [min, max], UNIQUE, NULL '
    + '(docs/task-files.md §1.4).');
  const rows = field('Most rows (optional)', 'input', {type: 'number', id: `${id}-rows`, min: 1, max: 1000000000,
    step: 1, inputmode: 'numeric'}, 'The most rows its upload may hold, 1 to 1 000 000 000 (without: 1 000 000).');
  const check = field('Data-quality check (optional)', 'textarea', {...sqlAttrs, id: `${id}-check`, rows: 3},
    'CHECK statements, each ending with a semicolon, such as CHECK COUNT(*) >= 10; an upload that fails one '
    + 'is refused.');
  const legend = h('legend', {});
  const remove = h('button', {type: 'button', class: 'secondary', id: `${id}-remove`});
  return {
    node: h('fieldset', {class: 'slot', id}, legend, peer.row, table.row, rows.row, check.row,
      h('div', {class: 'actions'}, remove)),
    legend,
    remove,
    values: () => ({peer: peer.value(), table: table.input.value, maxRows: rows.input.value, check: check.input.value}),
    controls: {peer: peer.control, table: () => table.input, max_rows: () => rows.input, check: () => check.input},
  };
}

/// One output: its fieldset, how to read and reach its fields, and offer(peers) to tick its readers among.
function outputGroup(id) {
  const table = field('Schema', 'textarea', {...sqlAttrs, id: `${id}-table`, rows: 6},
    'One CREATE TABLE statement: the table the algorithm writes (INSERT INTO its name). Its columns need no '
    + 'range: the node proves them from the inputs.');
  const ticks = h('div', {class: 'ticks'});
  const others = field('Other readers (optional)', 'input', {type: 'text', id: `${id}-others`, spellcheck: 'false',
    autocapitalize: 'none', autocomplete: 'off'},
  'The FQDNs of peers that read it but upload nothing, separated by spaces or commas.');
  const readers = h('fieldset', {class: 'readers'}, h('legend', {}, 'Readers'),
    h('p', {class: 'hint'}, 'The peers whose Data Analysts may download it: at least one.'), ticks, others.row);
  const legend = h('legend', {});
  const remove = h('button', {type: 'button', class: 'secondary', id: `${id}-remove`});
  let offered = null;
  const boxes = () => [...ticks.querySelectorAll('input[type=checkbox]')];
  return {
    node: h('fieldset', {class: 'slot', id}, legend, table.row, readers, h('div', {class: 'actions'}, remove)),
    legend,
    remove,
    /// Offers `peers` (FQDNs) as readers, keeping the ticks of those offered before.
    offer(peers) {
      if (offered !== null && offered.join('\n') === peers.join('\n'))
        return;
      const was = new Set(boxes().filter((b) => b.checked).map((b) => b.value));
      offered = peers;
      ticks.replaceChildren(...(peers.length ? peers.map((fqdn, i) => {
        const box = h('input', {type: 'checkbox', id: `${id}-reader-${i + 1}`, name: `${id}-readers`, value: fqdn,
          checked: was.has(fqdn)});
        return h('div', {class: 'choice'}, box, h('label', {for: box.id}, fqdn));
      }) : [h('p', {class: 'hint'}, 'The peers the inputs name are offered here once chosen.')]));
    },
    values: () => ({table: table.input.value, readers: distinct([
      ...boxes().filter((b) => b.checked).map((b) => b.value), ...others.input.value.split(/[\s,]+/)])}),
    controls: {table: () => table.input, readers: () => boxes()[0] ?? others.input},
  };
}

/// The inputs and outputs: {inputs, outputs} (their sections), values() → {inputs, outputs} as
/// draft_toml.js takes them, and control(kind, n, part), the element of a field. `peers` are the nodes
/// offered for an input; `changed` is called when a group comes or goes.
export function slotGroups(peers, changed) {
  const groups = {input: [], output: []};
  const serials = {input: 0, output: 0};
  const lists = {input: h('div', {}), output: h('div', {})};

  /// The readers each output offers: the peers the inputs name, in order.
  function offerReaders() {
    const named = distinct(groups.input.map((g) => g.values().peer));
    for (const g of groups.output)
      g.offer(named);
  }

  function renumber(kind) {
    groups[kind].forEach((g, i) => {
      g.legend.textContent = `${kind === 'input' ? 'Input' : 'Output'} ${i + 1}`;
      g.remove.textContent = `Remove ${kind} ${i + 1}`;
      g.remove.hidden = groups[kind].length === 1;
    });
  }

  function add(kind) {
    serials[kind] += 1;
    const id = `${kind}-${serials[kind]}`;
    const g = kind === 'input' ? inputGroup(id, peers) : outputGroup(id);
    g.remove.addEventListener('click', () => {
      groups[kind] = groups[kind].filter((x) => x !== g);
      g.node.remove();
      renumber(kind);
      offerReaders();
      buttons[kind].focus();
      changed();
    });
    groups[kind].push(g);
    lists[kind].append(g.node);
    renumber(kind);
    offerReaders();
    return g;
  }

  const buttons = {
    input: h('button', {type: 'button', class: 'secondary', id: 'add-input'}, 'Add an input'),
    output: h('button', {type: 'button', class: 'secondary', id: 'add-output'}, 'Add an output'),
  };
  for (const kind of ['input', 'output'])
    buttons[kind].addEventListener('click', () => {
      const g = add(kind);
      (g.controls.peer ?? g.controls.table)().focus();
      changed();
    });
  add('input');
  add('output');
  lists.input.addEventListener('change', offerReaders);
  lists.input.addEventListener('input', offerReaders);

  const section = (kind, title, hint) => h('section', {class: 'slots', 'aria-labelledby': `${kind}s-h`},
    h('h2', {id: `${kind}s-h`}, title), h('p', {class: 'hint'}, hint), lists[kind],
    h('div', {class: 'actions'}, buttons[kind]));
  return {
    inputs: section('input', 'Inputs', 'One per table a peer uploads: its Data Custodians upload it as CSV.'),
    outputs: section('output', 'Outputs', 'One per table the algorithm writes; its readers download it once.'),
    values: () => ({inputs: groups.input.map((g) => g.values()), outputs: groups.output.map((g) => g.values())}),
    control: (kind, n, part) => groups[kind][n]?.controls[part]?.() ?? null,
  };
}
