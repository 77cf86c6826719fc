// A Task Organiser drafts a Computation Task, two ways: a form (draft_form.js; the default), whose
// values make the readable task file, or the task file itself, typed or opened. Either text is
// compiled by the node as it changes (POST /v1/tasks/check), which shows the errors or what the task
// discloses; Create sends the CTSC of the last text checked to the root (POST /v1/ctas) and opens
// the CT's page.

import {api} from './api.js';
import {h} from './dom.js';
import {fieldName, taskForm} from './draft_form.js';
import {knownNodes} from './draft_nodes.js';
import {placeInForm, taskFile} from './draft_toml.js';
import {fromHex, toBase64} from './encoding.js';
import {has} from './session.js';
import {act, errorBox, facts, field, outcome} from './ui.js';

/// How long typing must pause before the node compiles the text (ms).
const checkDelayMs = 600;

/// `ctsc` with the simulated CT VM image this node expects in tee_measurements, unless it names
/// some already: what `joconde cta create` does (actors/cli/cli_cta.cpp fill_tee_measurements).
async function withTeeMeasurements(ctsc) {
  if ('tee_measurements' in ctsc || 'teeMeasurements' in ctsc)
    return {ctsc, note: ''};
  const tee = await api.get('/v1/tee');
  let measurement = null;
  try {
    measurement = typeof tee?.measurement === 'string' ? fromHex(tee.measurement) : null;
  } catch {
    measurement = null;
  }
  if (!measurement || measurement.length !== 48 || typeof tee.image !== 'string')
    throw new Error('the node did not tell its CT VM image and 48-byte measurement (GET /v1/tee); '
      + 'give tee_measurements in the task file instead');
  return {
    ctsc: {...ctsc, tee_measurements: [{platform: 'simulated', image: tee.image, measurement: toBase64(measurement)}]},
    note: `tee_measurements: simulated ${tee.image} measurement ${tee.measurement} from ${tee.node ?? 'this node'}`,
  };
}

function list(items, none) {
  return items && items.length ? h('ul', {}, items.map((t) => h('li', {}, t))) : none;
}

/// What the node's compiler says of the task.
function checkReport(r) {
  return [
    h('p', {class: 'ok', id: 'check-ok'}, 'The task compiles.'),
    facts([
      ['Title', h('span', {id: 'check-title'}, r.ctsc?.title ?? '')],
      ['Engine', r.engine],
      ['Features', list(r.features, 'none')],
      ['Disclosures (what the algorithm reveals beyond its outputs)', list(r.disclosures, 'none')],
      ['Approximate columns', list(r.approximate, 'none: every published value is exact')],
    ]),
  ];
}

/// The two ways to draft, a radio group like the log-in page's (the form first): {node, byForm(),
/// toFile()}. The way not chosen is hidden and disabled; choosing one has its text checked at once.
function ways(formWay, fileWay, changed) {
  const byForm = h('input', {type: 'radio', name: 'draft-way', value: 'form', id: 'draft-by-form', checked: true});
  const byFile = h('input', {type: 'radio', name: 'draft-way', value: 'file', id: 'draft-by-file'});
  const show = () => {
    formWay.hidden = formWay.disabled = !byForm.checked;
    fileWay.hidden = fileWay.disabled = byForm.checked;
    changed(0);
  };
  byForm.addEventListener('change', show);
  byFile.addEventListener('change', show);
  return {
    node: h('fieldset', {class: 'method'}, h('legend', {}, 'Draft the task with'),
      h('div', {class: 'choice'}, byForm, h('label', {for: 'draft-by-form'}, 'Form')),
      h('div', {class: 'choice'}, byFile, h('label', {for: 'draft-by-file'}, 'Task file (open or type one)'))),
    byForm: () => byForm.checked,
    toFile: () => {
      byFile.checked = true;
      show();
    },
  };
}

/// Where in the form the node's error points, with a button to go there (null when nowhere).
function errorPlace(err, fields, form) {
  const at = placeInForm(err?.message, fields);
  if (!at)
    return null;
  const go = h('button', {type: 'button', class: 'secondary', id: 'check-go'}, 'Go to the field');
  go.addEventListener('click', () => form.focus(at.key, at));
  return h('p', {class: 'place', id: 'check-place'}, `In the form: ${fieldName(at.key)}`,
    at.line ? `, line ${at.line}, column ${at.column}. ` : '. ', go);
}

export async function draftPage({go}) {
  if (!has('task_organiser'))
    return {title: 'New task', nodes: [h('p', {}, 'Drafting a task needs the role task_organiser.')]};
  const known = await knownNodes();
  const form = taskForm(known, () => changed());
  const generated = field('The task file the form writes', 'textarea', {id: 'form-toml', rows: 20, readonly: true,
    spellcheck: 'false', class: 'code'}, 'Read only: this is the text the node checks.');
  const toFile = h('button', {type: 'button', class: 'secondary', id: 'edit-as-file',
    'aria-describedby': 'edit-as-file-hint'}, 'Edit as a task file');
  const formWay = h('fieldset', {class: 'way', id: 'draft-form'}, form.node,
    h('details', {id: 'form-toml-box'}, h('summary', {}, 'Show the task file'), generated.row,
      h('div', {class: 'actions'}, toFile),
      h('p', {class: 'hint', id: 'edit-as-file-hint'}, 'Copies this text into the Task file way, replacing what it '
        + 'holds, to edit it there.')));

  const file = field('Open a task file', 'input', {type: 'file', id: 'task-file',
    accept: '.json,.toml,.txt,application/json,text/plain'},
  'Its text replaces what is below.');
  const text = field('Task file', 'textarea', {id: 'task-text', rows: 24, spellcheck: 'false', class: 'code'},
    'The JSON form or the readable form (docs/task-files.md). The node compiles it as you type.');
  const fileWay = h('fieldset', {class: 'way', id: 'draft-file', hidden: true, disabled: true}, file.row, text.row);

  const report = h('div', {id: 'check', 'aria-live': 'polite'}, h('p', {}, 'Nothing to check yet.'));
  const create = h('button', {type: 'button', id: 'create', disabled: true}, 'Create');
  const out = outcome();
  /// The last text the node compiled without error, and its answer.
  let checked = null;
  let timer = 0;
  let asked = 0;
  const way = ways(formWay, fileWay, changed);

  /// The text the chosen way gives: {source}, and for the form where its fields lie in it and
  /// which it still lacks.
  function draft() {
    if (!way.byForm())
      return {source: text.input.value};
    const values = form.values();
    const {text: source, fields} = taskFile(values);
    return {source, fields, missing: form.missing(values)};
  }

  async function check() {
    const mine = ++asked;
    const {source, fields, missing} = draft();
    checked = null;
    create.disabled = true;
    if (missing?.length) {
      report.replaceChildren(h('p', {id: 'check-missing'}, 'To fill in before the node can check the task: ',
        missing.map(fieldName).join('; '), '.'));
      return;
    }
    if (!source.trim()) {
      report.replaceChildren(h('p', {}, 'Nothing to check yet.'));
      return;
    }
    report.replaceChildren(h('p', {class: 'working'}, 'Checking…'));
    try {
      const result = await api.postText('/v1/tasks/check', source);
      if (mine !== asked)
        return;
      checked = {source, result};
      report.replaceChildren(...checkReport(result));
      create.disabled = false;
    } catch (e) {
      if (mine === asked)
        report.replaceChildren(...[errorBox(e), fields ? errorPlace(e, fields, form) : null].filter(Boolean));
    }
  }

  /// The draft changed: Create waits for the node to check it, `delay` ms after the last change.
  function changed(delay = checkDelayMs) {
    checked = null;
    create.disabled = true;
    if (way.byForm())
      generated.input.value = draft().source;
    clearTimeout(timer);
    timer = setTimeout(check, delay);
  }

  text.input.addEventListener('input', () => changed());
  file.input.addEventListener('change', async () => {
    const picked = file.input.files[0];
    if (!picked)
      return;
    text.input.value = await picked.text();
    clearTimeout(timer);
    check();
  });
  toFile.addEventListener('click', () => {
    text.input.value = draft().source;
    way.toFile();
    text.input.focus();
  });
  create.addEventListener('click', () => act(create, out, async () => {
    if (!checked || checked.source !== draft().source)
      throw new Error('the task changed since the last check: wait for it');
    const {ctsc, note} = await withTeeMeasurements(checked.result.ctsc);
    const made = await api.post('/v1/ctas', ctsc);
    go(`#/ct/${made.uuid}`, `Created and registered by the root. ${note}`.trim());
  }, 'Creating: the root registers the task (up to 30 s)…'));
  generated.input.value = draft().source;

  return {
    title: 'New task',
    nodes: [
      h('form', {class: 'card', id: 'draft', onsubmit: (e) => e.preventDefault()},
        way.node, formWay, fileWay,
        h('h2', {}, 'Check'), report,
        h('div', {class: 'actions'}, create), out),
    ],
  };
}
