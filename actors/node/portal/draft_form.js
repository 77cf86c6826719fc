// The drafting form: a task's title and description, its three Computing Parties, its inputs and
// outputs (draft_slots.js), its algorithm and its deadlines as dates. Its values make the readable
// task file (draft_toml.js) that the node checks; what is still to fill in is said before any is
// sent.

import {h} from './dom.js';
import {deadlineDays, defaultDeadlines, instantOf, timeZone} from './draft_dates.js';
import {nodeChoice} from './draft_nodes.js';
import {slotGroups} from './draft_slots.js';
import {field} from './ui.js';

/// How each deadline is labelled and explained.
const deadlineText = {
  approval: ['Approval', 'Every organisation\'s agreement signed and approved by then.'],
  input: ['Input', 'Every input uploaded, and its checks passed, by then.'],
  execution: ['Execution', 'The computation finished by then.'],
  output: ['Output', 'Outputs not downloaded by then are erased.'],
};

/// What a field of the form is called (a key of draft_toml.js's taskFile).
export function fieldName(key) {
  const [kind, n, part] = key.split('.');
  if (kind === 'input' || kind === 'output') {
    const what = {peer: 'its peer', max_rows: 'its most rows', table: 'its schema', check: 'its data-quality check',
      readers: 'its readers'}[part];
    return `${kind === 'input' ? 'Input' : 'Output'} ${Number(n) + 1}: ${what}`;
  }
  if (kind === 'deadlines')
    return `the ${n} deadline`;
  return {title: 'the title', description: 'the description', computing_parties: 'the Computing Parties',
    retention: 'how long records are kept', algorithm: 'the algorithm'}[kind] ?? key;
}

/// The form for the nodes `known` (draft_nodes.js knownNodes), calling `changed` on every change:
/// {node, values(), missing(values), focus(key, at)}.
export function taskForm(known, changed) {
  const title = field('Title', 'input', {type: 'text', id: 'task-title', autocomplete: 'off'},
    'What the task computes, in a few words: every organisation reads it.');
  const description = field('Description (optional)', 'textarea', {id: 'task-description', rows: 3},
    'What it computes and why.');
  const parties = [1, 2, 3].map((i) => nodeChoice(known.computingParties, {id: `cp-${i}`,
    label: `Computing Party ${i}`, choose: 'Choose a Computing Party'}));
  const slots = slotGroups(known.peers, changed);
  const algorithm = field('Algorithm (joconde-sql/1)', 'textarea', {id: 'algorithm', rows: 10, class: 'code',
    spellcheck: 'false', autocapitalize: 'none', autocomplete: 'off'},
  'INSERT INTO each output SELECT … FROM the inputs (docs/task-language.md). The node compiles it as you type '
  + 'and says what it discloses.');
  const defaults = defaultDeadlines(new Date());
  const zone = timeZone();
  const deadlines = Object.fromEntries(deadlineDays.map(([name]) => [name, field(deadlineText[name][0],
    'input', {type: 'datetime-local', id: `deadline-${name}`, value: defaults[name], required: true},
    deadlineText[name][1])]));
  const retention = field('Keep the records for (days)', 'input', {type: 'number', id: 'retention-days', min: 1,
    step: 1, value: 30, inputmode: 'numeric'},
  'After the output deadline every node keeps the task\'s records this many days, then erases them.');

  const node = h('div', {id: 'task-form'},
    h('p', {class: 'hint'}, 'The page writes the task file (docs/task-files.md) from these fields; the node checks it '
      + 'as you type. A node this one does not know yet is typed by its FQDN ("Another node").'),
    known.problem ? h('p', {class: 'notice', id: 'nodes-problem', role: 'status'},
      `Type each node's FQDN: ${known.problem}.`) : null,
    title.row, description.row,
    h('fieldset', {class: 'group', id: 'computing-parties'}, h('legend', {}, 'Computing Parties'),
      h('p', {class: 'hint'}, 'The nodes that compute on the shares, in MPC party order: three, each a '
        + 'different one.'),
      parties.map((p) => p.row)),
    slots.inputs, slots.outputs,
    h('section', {class: 'slots', 'aria-labelledby': 'algorithm-h'}, h('h2', {id: 'algorithm-h'}, 'Algorithm'),
      algorithm.row),
    h('fieldset', {class: 'group', id: 'deadlines'}, h('legend', {}, 'Deadlines'),
      h('p', {class: 'hint'}, `Dates and times ${zone ? `in your time zone (${zone})` : 'in your time zone'}, each `
        + 'after the one before; the task file holds them in UTC.'),
      deadlineDays.map(([name]) => deadlines[name].row), retention.row));
  node.addEventListener('input', changed);
  node.addEventListener('change', changed);

  function values() {
    return {
      title: title.input.value,
      description: description.input.value,
      computingParties: parties.map((p) => p.value()),
      ...slots.values(),
      algorithm: algorithm.input.value,
      deadlines: Object.fromEntries(deadlineDays.map(([name]) => [name, instantOf(deadlines[name].input.value)])),
      retentionDays: retention.input.value,
    };
  }

  /// The keys of the fields `v` still lacks (nothing is sent to the node until none is).
  function missing(v) {
    const keys = [];
    const blank = (t) => !String(t ?? '').trim();
    if (blank(v.title))
      keys.push('title');
    if (v.computingParties.some(blank))
      keys.push('computing_parties');
    v.inputs.forEach((input, n) => {
      if (blank(input.peer))
        keys.push(`input.${n}.peer`);
      if (blank(input.table))
        keys.push(`input.${n}.table`);
    });
    v.outputs.forEach((output, n) => {
      if (blank(output.table))
        keys.push(`output.${n}.table`);
      if (!output.readers.length)
        keys.push(`output.${n}.readers`);
    });
    if (blank(v.algorithm))
      keys.push('algorithm');
    for (const [name] of deadlineDays)
      if (!v.deadlines[name])
        keys.push(`deadlines.${name}`);
    if (blank(v.retentionDays))
      keys.push('retention');
    return keys;
  }

  /// The element of the field `key`.
  function control(key) {
    const [kind, n, part] = key.split('.');
    if (kind === 'input' || kind === 'output')
      return slots.control(kind, Number(n), part);
    if (kind === 'computing_parties')
      return (parties.find((p) => !p.value()) ?? parties[0]).control();
    if (kind === 'deadlines')
      return deadlines[n]?.input ?? null;
    return {title: title.input, description: description.input, algorithm: algorithm.input,
      retention: retention.input}[kind] ?? null;
  }

  /// Puts the keyboard on the field `key`; in a text of several lines at `at` ({line, column}), if given.
  function focus(key, at) {
    const el = control(key);
    if (!el)
      return;
    el.focus();
    if (el.tagName === 'TEXTAREA' && at?.line) {
      const lines = el.value.split('\n');
      const before = lines.slice(0, at.line - 1).reduce((n, l) => n + l.length + 1, 0);
      const offset = Math.min(el.value.length, before + Math.max(0, at.column - 1));
      el.setSelectionRange(offset, offset);
    }
  }

  return {node, values, missing, focus};
}
