// The Auditor's and the IT Administrator's page of this node's audit log, read-only: the check of
// its hash chain and signed checkpoints against the root CA (GET /v1/audit/verify, as `joconde-node
// audit verify --dir` makes it), its records page by page (GET /v1/audit), and a range of records
// saved as a file of the lines as they are in the log (GET /v1/audit/export), which `joconde-node
// audit verify --file` and any RFC 5424 tool read. The head of this log the parent node keeps is
// checked on the host (`joconde-node audit verify --head`), not here.

import {api} from './api.js';
import {h} from './dom.js';
import {has, session} from './session.js';
import {errorBox, facts, field, outcome, when} from './ui.js';

const pageSizes = [20, 50, 100, 200];
const defaultPageSize = 50;
/// The most records one export may hold (the node refuses more: 413).
const exportMax = 100000;

function section(id, title, ...children) {
  return h('section', {id, class: 'card', 'aria-labelledby': `${id}-h`}, h('h2', {id: `${id}-h`}, title), ...children);
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${Number(n) === 1 ? one : many}`;
}

/// A whole number ≥ 1 typed in `input`, or null.
function recordNumber(input) {
  const text = input.value.trim();
  if (!/^\d+$/.test(text))
    return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 1 ? n : null;
}

/// An RFC 5424 time as a <time> in the person's reading, or the text as it is if it is not one.
function timeOf(text) {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? String(text ?? '') : when(ms);
}

// -- the check -----------------------------------------------------------------------------------------

/// The verdict of GET /v1/audit/verify, said plainly, then what it rests on.
function verdictOf(doc) {
  const records = Number(doc.records ?? 0);
  const signed = Number(doc.signed_records ?? 0);
  const notes = Array.isArray(doc.notes) ? doc.notes : doc.notes ? [String(doc.notes)] : [];
  const verdict = doc.ok === true
    ? h('p', {class: 'verdict verdict-ok', id: 'audit-verdict', 'data-ok': 'true'},
      h('strong', {}, 'Intact'), `: each of the ${plural(records, 'record')} links to the one before it`,
      Number(doc.checkpoints) > 0 && doc.against_root_ca ? ', and every signed checkpoint verifies against the root CA.'
        : '.')
    : h('p', {class: 'verdict verdict-broken', id: 'audit-verdict', 'data-ok': 'false'},
      h('strong', {}, `BROKEN at line ${doc.first_bad_line ?? '?'}`), `: ${doc.reason || 'the node gave no reason'}. `,
      'The log from this line on cannot be trusted: keep the file as it is and tell the node\'s operator.');
  return [
    verdict,
    facts([
      ['Records checked', records],
      ['Signed checkpoints', doc.checkpoints ?? 0],
      ['Records covered by the last signed checkpoint', doc.checkpoints ? `${signed} of ${records}` : 'none'],
      ['Checkpoints checked against the root CA', doc.against_root_ca
        ? 'yes' : h('strong', {class: 'error'}, 'no: this node could not read its root CA certificate, so the '
          + 'checkpoints\' signatures were not checked')],
      ['Notes', notes.length ? h('ul', {class: 'plain', id: 'audit-notes'}, notes.map((n) => h('li', {}, n))) : 'none'],
      ['The head the parent keeps', h('span', {id: 'audit-parent-head'}, doc.parent_head
        || 'not checked here')],
    ]),
    h('p', {class: 'hint', id: 'audit-head-hint'}, 'Whoever holds this node\'s key could rewrite the log and sign it '
      + 'again; the head of the log its parent keeps is what such a rewrite cannot roll back. It is checked on the '
      + 'host, not here: at the parent, ', h('code', {}, 'joconde-node audit heads --dir PARENT_DATA_DIR --node '
      + 'THIS_NODE_FQDN'), ' prints it; saved in a file, ', h('code', {}, 'joconde-node audit verify --dir DATA_DIR --head '
      + 'FILE'), ' checks this log against it.'),
  ];
}

function verifySection() {
  const button = h('button', {type: 'button', id: 'audit-verify'}, 'Check the log now');
  const out = h('div', {class: 'outcome', id: 'audit-verify-result', 'aria-live': 'polite'});
  button.addEventListener('click', async () => {
    button.disabled = true;
    out.replaceChildren(h('p', {class: 'working'}, 'Checking every record and signed checkpoint…'));
    try {
      out.replaceChildren(...verdictOf(await api.get('/v1/audit/verify') ?? {}));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    } finally {
      button.disabled = false;
    }
  });
  return section('audit-check', 'Is the log intact?',
    h('p', {}, 'Each record carries the hash of the one before it; the node signs a checkpoint of the chain now and '
      + 'then. The check reads the whole log, every link and every signed checkpoint.'),
    h('div', {class: 'actions'}, button), out);
}

// -- the records --------------------------------------------------------------------------------------

function recordsTable(doc, from) {
  const records = doc.records ?? [];
  const total = Number(doc.total ?? 0);
  if (records.length === 0)
    return h('p', {id: 'audit-empty'}, total === 0 ? 'The log has no record yet.'
      : `No record from ${from} on: the log has ${plural(total, 'record')}.`);
  const first = records[0].seq;
  const last = records[records.length - 1].seq;
  return h('table', {id: 'audit-table', class: 'audit'},
    h('caption', {}, `Records ${first} to ${last} of ${total}`),
    h('thead', {}, h('tr', {}, ['Record', 'Time', 'Event', 'Written by', 'The line as logged']
      .map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, records.map((r) => h('tr', {'data-seq': r.seq},
      h('th', {scope: 'row', class: 'seq'}, String(r.seq)),
      h('td', {class: 'time'}, timeOf(r.time)),
      h('td', {}, h('code', {class: 'event'}, r.event || '—')),
      h('td', {}, r.component ?? ''),
      h('td', {}, h('details', {class: 'audit-line'},
        h('summary', {}, `Line ${r.seq}`),
        h('code', {class: 'line'}, r.line ?? '')))))));
}

/// The records, a page at a time: "from record", the page size, previous and next.
function recordsSection(onTotal) {
  const fromField = field('From record', 'input', {type: 'number', id: 'audit-from', min: '1', step: '1', value: '1',
    inputmode: 'numeric', required: true});
  const sizeField = field('Records per page', 'select', {id: 'audit-limit'});
  for (const n of pageSizes)
    sizeField.input.append(h('option', {value: String(n), selected: n === defaultPageSize}, String(n)));
  const show = h('button', {type: 'submit', id: 'audit-show'}, 'Show');
  const form = h('form', {id: 'audit-go', class: 'inline-form'}, fromField.row, sizeField.row,
    h('div', {class: 'actions'}, show));
  const prev = h('button', {type: 'button', class: 'secondary', id: 'audit-prev', disabled: true}, 'Previous page');
  const next = h('button', {type: 'button', class: 'secondary', id: 'audit-next', disabled: true}, 'Next page');
  const said = h('p', {id: 'audit-range', class: 'hint', 'aria-live': 'polite'});
  const body = h('div', {id: 'audit-records-body', tabindex: '-1'});
  let from = 1;
  let loading = 0;

  const limit = () => Number(sizeField.input.value) || defaultPageSize;

  async function load(start) {
    const n = ++loading;
    for (const b of [prev, next, show])
      b.disabled = true;
    said.textContent = 'Reading the log…';
    let doc;
    try {
      doc = await api.get(`/v1/audit?from=${start}&limit=${limit()}`);
    } catch (e) {
      if (n === loading) {
        body.replaceChildren(errorBox(e));
        said.textContent = '';
        show.disabled = false;
        prev.disabled = start <= 1;
      }
      return;
    }
    if (n !== loading)
      return;
    from = start;
    fromField.input.value = String(start);
    const records = doc?.records ?? [];
    const total = Number(doc?.total ?? 0);
    // Where the focus was on a button now disabled (the first or last page), it goes to the table.
    const focused = document.activeElement;
    body.replaceChildren(recordsTable(doc ?? {}, start));
    show.disabled = false;
    prev.disabled = start <= 1;
    next.disabled = !doc?.next;
    said.textContent = records.length ? `Showing records ${records[0].seq} to ${records[records.length - 1].seq} `
      + `of ${total}.` : `The log has ${plural(total, 'record')}.`;
    if ((focused === prev || focused === next || focused === show) && focused.disabled)
      body.focus();
    onTotal(total);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = recordNumber(fromField.input);
    if (n === null) {
      body.replaceChildren(errorBox(new Error('the first record to show is a whole number, 1 or more')));
      fromField.input.focus();
      return;
    }
    load(n);
  });
  prev.addEventListener('click', () => load(Math.max(1, from - limit())));
  next.addEventListener('click', () => load(from + limit()));

  return {
    node: section('audit-records', 'Records',
      h('p', {}, 'Newest last. Each record\'s line is as the log holds it: unfold it to read it whole.'),
      form,
      h('div', {class: 'pager'}, prev, next, said),
      body),
    load,
  };
}

// -- the export ---------------------------------------------------------------------------------------

function exportSection(node) {
  const fromField = field('From record', 'input', {type: 'number', id: 'export-from', min: '1', step: '1', value: '1',
    inputmode: 'numeric', required: true});
  const toField = field('To record', 'input', {type: 'number', id: 'export-to', min: '1', step: '1',
    inputmode: 'numeric', required: true});
  const submit = h('button', {type: 'submit', id: 'export-button'}, 'Export the records');
  const out = outcome();
  out.id = 'export-result';
  const form = h('form', {id: 'audit-export', class: 'inline-form'}, fromField.row, toField.row,
    h('div', {class: 'actions'}, submit));
  let url = '';

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const a = recordNumber(fromField.input);
    const b = recordNumber(toField.input);
    const refuse = (text, input) => {
      out.replaceChildren(errorBox(new Error(text)));
      input.focus();
    };
    if (a === null)
      return refuse('"From record" is a whole number, 1 or more', fromField.input);
    if (b === null)
      return refuse('"To record" is a whole number, 1 or more', toField.input);
    if (b < a)
      return refuse('"To record" comes before "From record"', toField.input);
    if (b - a >= exportMax)
      return refuse(`at most ${exportMax} records at once`, toField.input);
    submit.disabled = true;
    out.replaceChildren(h('p', {class: 'working'}, 'Exporting…'));
    try {
      const {blob, name} = await api.file(`/v1/audit/export?from=${a}&to=${b}`, `audit-${node}-${a}-${b}.log`);
      if (blob.size === 0) {
        out.replaceChildren(h('p', {role: 'status'}, `No record from ${a} to ${b}: nothing to save.`));
        return;
      }
      const lines = (await blob.text()).split('\n').filter((l) => l !== '').length;
      if (url)
        URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      const again = h('a', {href: url, download: name, class: 'download', id: 'export-again'}, `Save ${name} again`);
      out.replaceChildren(
        h('p', {class: 'ok', role: 'status'}, `Exported ${plural(lines, 'record')} as ${name} (to your downloads).`),
        h('p', {}, again));
      again.click();
    } catch (err) {
      out.replaceChildren(errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });

  return {
    node: section('audit-export-section', 'Export records',
      h('p', {}, 'Saves the records as a file of the lines as they are in the log: ', h('code', {}, 'joconde-node audit '
        + 'verify --file'), ` and any RFC 5424 tool read it. At most ${exportMax} records at once.`),
      form, out),
    setTotal(total) {
      if (total > 0 && !toField.input.value)
        toField.input.value = String(total);
    },
  };
}

export async function auditPage() {
  if (!has('auditor') && !has('it_admin'))
    return {title: 'Audit log', nodes: [h('p', {}, 'This page needs the role auditor or it_admin.')]};
  const node = session().node;
  const exporting = exportSection(node);
  const records = recordsSection((total) => exporting.setTotal(total));
  await records.load(1);
  return {
    title: `Audit log of ${node}`,
    nodes: [
      h('p', {}, 'This node\'s audit log: who did what, when, hash-chained so that a change shows. Nothing on this '
        + 'page changes it.'),
      verifySection(),
      records.node,
      exporting.node,
    ],
  };
}
