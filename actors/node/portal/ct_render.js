// A CTA as people read it: where it stands and who acts next first, then the CTSC (what is computed,
// from which inputs, for whom, and what it discloses), the members, the addenda, and the CT VMs'
// telemetry folded away. Only text nodes: every string here was typed by someone.

import {h} from './dom.js';
import {fromBase64, toHex} from './encoding.js';
import {facts, table, when} from './ui.js';

/// "TYPE_FIXED_POINT" → "fixed point"; "PEER_ROLE_INPUT_OUTPUT" → "input output".
function enumText(value, prefix) {
  return String(value ?? '').replace(prefix, '').toLowerCase().replaceAll('_', ' ');
}

function columnText(c) {
  const parts = [`${c.name}: ${enumText(c.type, 'TYPE_')}`];
  if (c.scale)
    parts.push(`scale ${c.scale}`);
  if (c.domain?.length)
    parts.push(`one of ${c.domain.join(', ')}`);
  if (c.min !== undefined || c.max !== undefined)
    parts.push(`from ${c.min ?? '…'} to ${c.max ?? '…'}`);
  if (c.unique)
    parts.push('unique');
  if (c.nullable)
    parts.push('may be empty');
  return parts.join(', ');
}

function columns(schema) {
  return h('ul', {class: 'plain'}, (schema ?? []).map((c) => h('li', {}, columnText(c))));
}

function measurementText(m) {
  let hex = '';
  try {
    hex = toHex(fromBase64(m.measurement ?? ''));
  } catch {
    hex = String(m.measurement);
  }
  return [`${m.platform}, ${m.image}: `, h('code', {class: 'wrap'}, hex)];
}

/// The phase, its deadline and what each organisation still has to do; mine(who) tells the
/// person's own organisation.
export function progressSection(cta, mine, refresh) {
  const p = cta.progress ?? {phase: cta.status, to_do: []};
  const toDo = p.to_do ?? [];
  return h('section', {id: 'progress', class: 'card lead', 'aria-labelledby': 'progress-h'},
    h('h2', {id: 'progress-h'}, 'Where it stands'),
    h('p', {class: 'phase'}, 'Phase: ', h('strong', {id: 'phase', 'data-phase': p.phase}, p.phase),
      p.until_ms && Number(p.until_ms) ? [', until ', when(p.until_ms)] : null,
      ` (agreement status: ${cta.status})`),
    p.cause ? h('p', {class: 'error', id: 'cause'}, `Why it stopped: ${p.cause}`) : null,
    cta.reason && !p.cause ? h('p', {}, `Reason: ${cta.reason}`) : null,
    h('h3', {}, 'Who must act next'),
    toDo.length === 0
      ? h('p', {id: 'to-do'}, 'Nobody: there is nothing left to do.')
      : h('ul', {id: 'to-do'}, toDo.map((t) => h('li', {class: mine(t.who) ? 'mine' : false},
        h('strong', {}, t.who), mine(t.who) ? ' (your organisation)' : '', `: ${t.what}`))),
    h('div', {class: 'actions'}, h('button', {type: 'button', id: 'refresh', onclick: refresh}, 'Refresh')));
}

/// The CTSC in readable form.
export function ctscSection(cta) {
  const c = cta.ctsc ?? {};
  const t = c.temporal ?? {};
  const algo = c.main_algorithm ?? {};
  const engine = c.engine ?? {};
  const params = (engine.parameters ?? []).map((p) => `${p.name} = ${p.value}`).join(', ');
  return h('section', {id: 'ctsc', class: 'card', 'aria-labelledby': 'ctsc-h'},
    h('h2', {id: 'ctsc-h'}, 'The agreement (CTSC)'),
    facts([
      ['Title', h('span', {id: 'ctsc-title'}, c.title ?? '')],
      ['Description', c.description],
      ['Organiser', c.organiser ? `${c.organiser.name} at ${c.organiser.peer}` : ''],
      ['Created', when(c.created_at_ms)],
      ['Identifier', h('code', {}, cta.uuid)],
      ['Engine', `${engine.name ?? ''} ${engine.version ?? ''}${params ? ` (${params})` : ''}`],
      ['Agreement reached by', when(t.approval_deadline_ms)],
      ['Inputs uploaded by', when(t.input_deadline_ms)],
      ['Computed by', when(t.execution_deadline_ms)],
      ['Outputs read by', when(t.output_deadline_ms)],
      ['Data kept after that', t.data_retention_s ? `${Math.round(Number(t.data_retention_s) / 86400)} day(s)` : ''],
      ['CT VM image', (c.tee_measurements ?? []).map((m) => h('div', {}, measurementText(m)))],
    ]),
    h('h3', {}, `Algorithm (${algo.language ?? 'no language'})`),
    h('pre', {class: 'code', tabindex: '0', role: 'region', 'aria-label': 'Algorithm source'}, algo.source ?? ''),
    h('h3', {}, 'Disclosures'),
    h('p', {class: 'hint'}, 'What the algorithm reveals beyond its outputs, as the compiler states it.'),
    (algo.disclosures ?? []).length ? h('ul', {id: 'disclosures'}, algo.disclosures.map((d) => h('li', {}, d)))
      : h('p', {}, 'none'),
    h('h3', {}, 'Inputs'),
    table('Inputs and who uploads them', ['Input', 'Uploaded by', 'Columns', 'At most rows'],
      (c.inputs ?? []).map((i) => [h('code', {}, i.key), i.peer, columns(i.schema), i.max_rows ?? '1000000'])),
    h('h3', {}, 'Outputs'),
    table('Outputs and who may read them', ['Output', 'Read by', 'Columns'],
      (c.outputs ?? []).map((o) => [h('code', {}, o.key), (o.peers ?? []).join(', '), columns(o.schema)])),
    h('h3', {}, 'Peers and Computing Parties'),
    h('ul', {}, (c.peers ?? []).map((p) => h('li', {}, `${p.fqdn}: peer (${enumText(p.role, 'PEER_ROLE_')})`)),
      (c.computing_parties ?? []).map((p, i) => h('li', {}, `${p.fqdn}: Computing Party ${i + 1}`))),
    (c.attachments ?? []).length ? [h('h3', {}, 'Attachments'),
      h('ul', {}, c.attachments.map((a) => h('li', {}, `${a.title}: ${a.description ?? ''}`)))] : null);
}

/// The other members and whether this node trusts them (SYS-2.1).
export function membersSection(cta) {
  return h('section', {class: 'card', 'aria-labelledby': 'members-h'},
    h('h2', {id: 'members-h'}, 'Members'),
    table('Members as this node trusts them', ['Node', 'Role', 'Trust', 'Certificate fingerprint'],
      (cta.members ?? []).map((m) => [m.fqdn, enumText(m.role, ''), m.override
        ? `${m.trust}: ${m.override.reason} (by ${m.override.by})`
        : m.trust === 'unconfirmed' ? h('strong', {class: 'error'}, 'unconfirmed') : m.trust,
      h('code', {class: 'wrap'}, m.fingerprint)])));
}

/// "persons, income": the slots a person of a CTSA holds.
function slotsText(keys) {
  return (keys ?? []).join(', ') || 'no slot';
}

/// The signatories a CTSA names and whether each has signed (an addendum's people.signatories).
export function signatoriesList(people) {
  const list = people?.signatories ?? [];
  if (list.length === 0)
    return h('span', {}, 'none named');
  return h('ul', {class: 'plain people-list'}, list.map((s) => h('li', {class: s.signed ? 'signed' : 'unsigned'},
    `${s.name} (signatory ${Number(s.index) + 1}): `, h('strong', {}, s.signed ? 'signed' : 'not yet signed'))));
}

/// The data custodians or analysts a CTSA names: their names, slots and keys (PAK SHA-256).
export function holdersList(holders) {
  if ((holders ?? []).length === 0)
    return h('span', {}, 'none named');
  return h('ul', {class: 'plain people-list'}, holders.map((p) => h('li', {},
    `${p.name}: ${slotsText(p.keys)}; PAK SHA-256 `, h('code', {class: 'wrap'}, p.pak_sha256 ?? ''))));
}

/// Whom a CTSA names, in full, for the person about to sign or decide on it: the signatories and
/// whether each signed, the data custodians and analysts with their slots and the fingerprints of
/// their keys. `id` names the tables.
export function peopleTables(people, id) {
  const p = people ?? {};
  const holders = (caption, rows, kind) => table(caption, ['Name', kind, 'PAK SHA-256'],
    (rows ?? []).map((r) => [r.name, slotsText(r.keys), h('code', {class: 'wrap'}, r.pak_sha256 ?? '')]),
    {id: `${id}-${kind === 'Inputs' ? 'custodians' : 'analysts'}`, class: 'people'});
  return h('div', {class: 'people', id},
    table('Signatories', ['Name', 'Signature'], (p.signatories ?? []).map((s) => [
      `${s.name} (signatory ${Number(s.index) + 1})`, s.signed ? 'signed' : 'not yet signed']),
    {id: `${id}-signatories`, class: 'people'}),
    (p.data_custodians ?? []).length
      ? holders('Data custodians: who uploads which input, with which key', p.data_custodians, 'Inputs')
      : h('p', {}, 'It names no data custodian.'),
    (p.data_analysts ?? []).length
      ? holders('Data analysts: who downloads which output, with which key', p.data_analysts, 'Outputs')
      : h('p', {}, 'It names no data analyst.'));
}

/// Each peer's addendum (CTSA) as this node holds it, with the people it names.
export function addendaSection(cta) {
  const addenda = cta.addenda ?? [];
  return h('section', {class: 'card', 'aria-labelledby': 'addenda-h'},
    h('h2', {id: 'addenda-h'}, 'Addenda (CTSAs)'),
    addenda.length === 0 ? h('p', {}, 'No peer has submitted its CTSA yet (or this node is not told of it).')
      : table('Each peer\'s addendum and the people it names', ['Peer', 'Status', 'Version', 'Signatories',
        'Data custodians', 'Data analysts', 'Reason'],
      addenda.map((a) => [a.peer, a.status, a.version,
        [h('p', {class: 'count'}, `${a.signatures ?? '—'} of ${a.signatories} signed`),
          a.people ? signatoriesList(a.people) : null],
        a.people ? holdersList(a.people.data_custodians) : String(a.data_custodians ?? 0),
        a.people ? holdersList(a.people.data_analysts) : String(a.data_analysts ?? 0),
        a.reason || '']), {id: 'addenda'}));
}

/// The CT VMs' addresses and the CT's events, folded: the root's account of the agreement (kind
/// `agreement`, from the root: SYS-5.3) and the CT VMs' events (from each Computing Party); `open`
/// (the Auditor's) unfolded, and said even when there is none.
export function runSection(cta, {open = false} = {}) {
  const vms = cta.vms ?? [];
  const events = cta.telemetry ?? [];
  if (vms.length === 0 && events.length === 0 && !open)
    return null;
  return h('section', {class: 'card', id: 'run', 'aria-labelledby': 'run-h'},
    h('h2', {id: 'run-h'}, 'The computation'),
    vms.length === 0 && events.length === 0
      ? h('p', {id: 'no-events'}, 'No CT VM has reported yet.')
      : h('details', {open},
        h('summary', {}, `CT VMs (${vms.length}) and events (${events.length})`),
        table('CT VMs', ['Computing Party', 'Index', 'Client address', 'Platform', 'Reported'],
          vms.map((v) => [v.cp, v.cp_index, v.client_address, v.platform, when(v.reported_at_ms)])),
        table('Events, oldest first', ['When', 'From', 'Kind', 'Subject', 'Value'],
          events.map((e) => [when(e.at_ms), e.cp, e.kind, e.subject, e.value]), {id: 'events'})));
}
