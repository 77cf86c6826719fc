// A Task Organiser drafts a Computation Task: the task file (typed or opened) is compiled by the
// node as it is edited (POST /v1/tasks/check), which shows the errors or what the task discloses;
// Create sends the CTSC the check made to the root (POST /v1/ctas) and opens the CT's page.

import {api} from './api.js';
import {h} from './dom.js';
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
      ['Engine', r.engine],
      ['Features', list(r.features, 'none')],
      ['Disclosures (what the algorithm reveals beyond its outputs)', list(r.disclosures, 'none')],
      ['Approximate columns', list(r.approximate, 'none: every published value is exact')],
    ]),
  ];
}

export async function draftPage({go}) {
  if (!has('task_organiser'))
    return {title: 'New task', nodes: [h('p', {}, 'Drafting a task needs the role task_organiser.')]};
  const file = field('Open a task file', 'input', {type: 'file', id: 'task-file',
    accept: '.json,.toml,.txt,application/json,text/plain'},
  'Its text replaces what is below.');
  const text = field('Task file', 'textarea', {id: 'task-text', rows: 24, spellcheck: 'false', class: 'code'},
    'The JSON form or the readable form (docs/task-files.md). The node compiles it as you type.');
  const report = h('div', {id: 'check', 'aria-live': 'polite'}, h('p', {}, 'Nothing to check yet.'));
  const create = h('button', {type: 'button', id: 'create', disabled: true}, 'Create');
  const out = outcome();
  /// The last text the node compiled without error, and its answer.
  let checked = null;
  let timer = 0;
  let asked = 0;

  async function check() {
    const mine = ++asked;
    const source = text.input.value;
    checked = null;
    create.disabled = true;
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
        report.replaceChildren(errorBox(e));
    }
  }

  text.input.addEventListener('input', () => {
    checked = null;
    create.disabled = true;
    clearTimeout(timer);
    timer = setTimeout(check, checkDelayMs);
  });
  file.input.addEventListener('change', async () => {
    const picked = file.input.files[0];
    if (!picked)
      return;
    text.input.value = await picked.text();
    clearTimeout(timer);
    check();
  });
  create.addEventListener('click', () => act(create, out, async () => {
    if (!checked || checked.source !== text.input.value)
      throw new Error('the task changed since the last check: wait for it');
    const {ctsc, note} = await withTeeMeasurements(checked.result.ctsc);
    const made = await api.post('/v1/ctas', ctsc);
    go(`#/ct/${made.uuid}`, `Created and registered by the root. ${note}`.trim());
  }, 'Creating: the root registers the task (up to 30 s)…'));

  return {
    title: 'New task',
    nodes: [
      h('form', {class: 'card', id: 'draft', onsubmit: (e) => e.preventDefault()},
        file.row, text.row,
        h('h2', {}, 'Check'), report,
        h('div', {class: 'actions'}, create), out),
    ],
  };
}
