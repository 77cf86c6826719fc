// The IT Administrator's and the Auditor's page of the node itself, read-only: its health and
// identity (certificate fingerprint, rotation), its links up and down the tree, the fingerprints it
// confirmed out of band (and the members of its CTs it has not), its people and their roles, and the
// CT VM image it runs or expects (GET /healthz, /v1/status, /v1/identity, /v1/trust, /v1/users,
// /v1/tee, /v1/ctas). Nothing here changes the node: trust is confirmed with `joconde-node trust
// confirm` by the operator, a member accepted for one CT on that CT's page.

import {api, health, seg} from './api.js';
import {h} from './dom.js';
import {canonicalFingerprint, groupedHex} from './fingerprint.js';
import {has, session} from './session.js';
import {errorBox, facts, table, when} from './ui.js';

/// How many CTs (the most recently changed) are read for the names of the fingerprints.
const ctsRead = 30;
const dayMs = 86400000;

/// {ok, value} or {ok: false, error}: one call whose failure spoils only its own section.
async function settle(promise) {
  try {
    return {ok: true, value: await promise};
  } catch (error) {
    return {ok: false, error};
  }
}

function section(id, title, ...children) {
  return h('section', {id, class: 'card', 'aria-labelledby': `${id}-h`}, h('h2', {id: `${id}-h`}, title), ...children);
}

/// The section `id` from `got` (a settled call) through `draw`, or the call's refusal.
function drawn(id, title, got, draw) {
  return section(id, title, got.ok ? draw(got.value) : errorBox(got.error));
}

function yesNo(b) {
  return b ? 'yes' : 'no';
}

/// The CTs this node holds (the newest `ctsRead`), each with its members: who each fingerprint is,
/// and which members this node has not confirmed.
async function heldCtas() {
  const list = [...((await api.get('/v1/ctas'))?.ctas ?? [])]
    .sort((a, b) => Number(b.last_changed_ms) - Number(a.last_changed_ms)).slice(0, ctsRead);
  return Promise.all(list.map((c) => api.get(`/v1/ctas/${seg(c.uuid)}`).catch(() => null)))
    .then((all) => all.filter(Boolean));
}

/// fingerprint → node name, from the links, the CTs' members and the node itself.
function namesOf(self, identity, status, ctas) {
  const names = new Map();
  const put = (fp, name) => {
    const c = canonicalFingerprint(fp);
    if (c && name && !names.has(c))
      names.set(c, name);
  };
  if (identity.ok)
    put(identity.value?.fingerprint, `${self} (this node)`);
  for (const l of (status.ok ? status.value?.connection_manager?.links : null) ?? [])
    put(l.fingerprint, l.peer);
  if (identity.ok)
    put(identity.value?.issuer_fingerprint, 'the issuer of this node\'s certificate');
  for (const cta of ctas.ok ? ctas.value : [])
    for (const m of cta.members ?? [])
      put(m.fingerprint, m.fqdn);
  return names;
}

function healthSection(got) {
  return drawn('health', 'Health', got, (doc) => [
    h('p', {class: 'phase'}, 'Status: ', h('strong', {id: 'health-status', 'data-status': doc.status}, doc.status),
      doc.status === 'ok' ? ': every link is up, nothing degraded.' : doc.status === 'not_ready'
        ? ': a link is down.' : ': the node answers but cannot do all its work.'),
    (doc.degraded ?? []).length ? table('Why it is degraded', ['Component', 'Reason', 'Since', 'Failures', 'Message'],
      doc.degraded.map((d) => [d.component, d.reason, when(d.since_ms), d.failures, d.message])) : null,
    facts([['Node', doc.fqdn], ['Short name', doc.node], ['Role in the tree', doc.role]]),
  ]);
}

/// Certificates due to expire within this many days are flagged.
const expiryWarningDays = 30;

/// The certificate's expiry and days left, when the node reports it; flagged when fewer than
/// `expiryWarningDays` are left.
function expiry(doc) {
  const ms = Number(doc.not_after_ms ?? 0);
  if (!ms)
    return h('span', {class: 'hint'}, 'not reported by this node\'s API');
  const days = Math.floor((ms - Date.now()) / dayMs);
  if (days < 0)
    return h('span', {id: 'not-after', class: 'warning', 'data-days': days}, when(ms), ' ',
      h('strong', {}, 'EXPIRED'), ': the other nodes refuse this node until its certificate is renewed.');
  const left = `${days} day${days === 1 ? '' : 's'} left`;
  if (days < expiryWarningDays)
    return h('span', {id: 'not-after', class: 'warning', 'data-days': days}, when(ms), ' (', h('strong', {}, left),
      '): renew the certificate before then, or the other nodes will refuse this one.');
  return h('span', {id: 'not-after', 'data-days': days}, when(ms), ` (${left})`);
}

function identitySection(got, fqdn) {
  return drawn('identity', 'Identity', got, (doc) => {
    const notices = doc.rotation_notices ?? {};
    return [
      facts([
        ['Node', fqdn],
        ['Certificate fingerprint (SHA-256)', h('div', {id: 'own-fingerprint'},
          groupedHex(doc.fingerprint, 'this node\'s fingerprint'))],
        ['Certificate subject', doc.subject ? h('span', {id: 'cert-subject'}, doc.subject)
          : h('span', {class: 'hint'}, 'not reported by this node\'s API')],
        ['Contact (the certificate\'s e-mail)', doc.contact ? h('span', {id: 'cert-contact'}, doc.contact)
          : h('span', {class: 'hint'}, 'none in the certificate')],
        ['Valid until', expiry(doc)],
        ['Issuer\'s fingerprint (SHA-256)', doc.issuer_fingerprint
          ? groupedHex(doc.issuer_fingerprint, 'the issuer\'s fingerprint', {copyable: false}) : null],
        ['Key rotation under way', yesNo(doc.rotation_pending)],
        ['Revocations applied', doc.revocations_applied ?? 0],
        ['Rotation notices of other nodes', Object.values(notices).some((v) => Number(v) > 0)
          ? Object.entries(notices).map(([k, v]) => `${k.replaceAll('_', ' ')}: ${v}`).join(', ') : 'none'],
      ]),
      h('p', {class: 'hint'}, 'Give this fingerprint to the operators of the other nodes, out of band (in person, '
        + 'on a call): they confirm it at their nodes before they trust this one.'),
    ];
  });
}

function linksSection(status, healthDoc) {
  const cm = status.ok ? status.value?.connection_manager : null;
  const links = cm?.links ?? (healthDoc.ok ? healthDoc.value?.links : null);
  if (!links)
    return section('links', 'Links', status.ok ? h('p', {}, 'The node did not report its links.') : errorBox(status.error));
  return section('links', 'Links',
    links.length === 0 ? h('p', {}, 'This node has no link: it is the root and no node is connected to it.')
      : table('Links to the parent and the children', ['Direction', 'Node', 'State', 'Address', 'Last error'],
        links.map((l) => [l.direction, l.peer, h('strong', {class: l.up ? 'ok' : 'error'}, l.up ? 'up' : 'down'),
          l.address ?? '', l.last_error || '']), {id: 'links-table'}),
    cm && cm.pending_handshakes ? h('p', {}, `${cm.pending_handshakes} handshake(s) under way.`) : null);
}

function trustSection(got, names, ctas) {
  return drawn('trust', 'Trust store', got, (doc) => {
    const unnamed = 'not named in a CT this node holds';
    const nameOf = (r) => names.get(canonicalFingerprint(r.fingerprint)) ?? unnamed;
    // By name, the unnamed last.
    const records = [...(doc.records ?? (doc.confirmed ?? []).map((fingerprint) => ({fingerprint})))]
      .sort((a, b) => (nameOf(a) === unnamed) - (nameOf(b) === unnamed) || nameOf(a).localeCompare(nameOf(b)));
    const unconfirmed = (ctas.ok ? ctas.value : []).flatMap((cta) => (cta.members ?? [])
      .filter((m) => m.trust === 'unconfirmed').map((m) => ({cta, m})));
    return [
      h('p', {class: 'hint'}, 'The certificate fingerprints compared out of band at this node (joconde-node trust '
        + 'confirm): to confirm out of band, read each group of four bytes to the other node\'s operator, who reads '
        + 'it off their own node.'),
      records.length === 0 ? h('p', {}, 'This node has confirmed no fingerprint.')
        : table('Fingerprints confirmed at this node', ['Node', 'Fingerprint', 'Confirmed', 'How'],
          records.map((r) => {
            const name = nameOf(r);
            return [name, groupedHex(r.fingerprint, `the fingerprint of ${name}`), when(r.confirmed_at_ms),
              r.rotated_from ? ['successor by rotation of ', groupedHex(r.rotated_from, 'the fingerprint it succeeds',
                {copyable: false})] : 'compared out of band'];
          }), {id: 'trust-table'}),
      h('h3', {}, 'Members of CTs not confirmed here'),
      unconfirmed.length === 0 ? h('p', {id: 'unconfirmed-none'}, 'None: this node trusts every member of the CTs it holds.')
        : [h('p', {}, 'This node submits no CTSA for these CTs until each member is confirmed (for every CT) or, on the '
          + 'CT\'s page, accepted by an IT administrator for that CT only.'),
        table('Members this node has not confirmed', ['CT', 'Member', 'Role', 'Fingerprint'],
          unconfirmed.map(({cta, m}) => [h('a', {href: `#/ct/${seg(cta.uuid)}`}, cta.title || cta.uuid), m.fqdn,
            String(m.role ?? '').replaceAll('_', ' '), groupedHex(m.fingerprint, `the fingerprint of ${m.fqdn}`)]),
          {id: 'unconfirmed-table'})],
    ];
  });
}

function usersSection(got) {
  return drawn('users', 'People and their roles', got, (doc) => {
    const users = [...(doc.users ?? [])].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    return [
      users.length === 0 ? h('p', {}, 'This node has no user.')
        : table(`${users.length} user(s) at this node`, ['Name', 'Roles', 'Added', 'Added by', 'Token issued'],
          users.map((u) => [u.name, (u.roles ?? []).join(', '), when(u.created_at_ms), u.created_by ?? '',
            when(u.token_issued_at_ms)]), {id: 'users-table'}),
      h('p', {class: 'hint'}, 'Users are added, and their tokens issued, with joconde-node user on the node\'s host; '
        + 'the API never shows a token.'),
    ];
  });
}

function teeSection(got) {
  return drawn('tee', 'CT VM image (TEE)', got, (doc) => [
    doc.simulated ? h('p', {class: 'warning', id: 'tee-simulated'}, h('strong', {}, 'SIMULATED'),
      ': no TEE hardware and no memory protection. The CT VMs run as ordinary processes; this is for tests and '
      + 'demonstrations, not for confidential data.') : null,
    facts([
      ['Platform', doc.platform],
      ['Image', doc.image],
      ['Launch measurement', groupedHex(doc.measurement, 'the launch measurement', {colons: false})],
      ['Note', doc.note],
    ]),
  ]);
}

/// The other actors' status documents as the node reports them.
function actorsSection(got) {
  if (!got.ok)
    return null;
  const {node, connection_manager: cm, ...rest} = got.value ?? {};
  return section('actors', 'Management Plane actors',
    h('details', {},
      h('summary', {}, 'Their status as the node reports it'),
      h('pre', {class: 'code', tabindex: '0', role: 'region', 'aria-label': 'Status of the actors'},
        JSON.stringify(rest, null, 2))));
}

export async function nodePage() {
  const s = session();
  if (!has('it_admin') && !has('auditor'))
    return {title: 'Node', nodes: [h('p', {}, 'This page needs the role it_admin or auditor.')]};
  const [healthDoc, status, identity, trust, users, tee, ctas] = await Promise.all([
    settle(health()), settle(api.get('/v1/status')), settle(api.get('/v1/identity')), settle(api.get('/v1/trust')),
    settle(api.get('/v1/users')), settle(api.get('/v1/tee')), settle(heldCtas())]);
  const names = namesOf(s.node, identity, status, ctas);
  return {
    title: `Node ${s.node}`,
    nodes: [
      h('p', {}, has('it_admin') ? 'What this node is, whom it trusts and who uses it. Nothing on this page changes '
        + 'the node.' : 'What this node is, whom it trusts and who uses it, read-only.'),
      healthSection(healthDoc),
      identitySection(identity, s.node),
      linksSection(status, healthDoc),
      trustSection(trust, names, ctas),
      usersSection(users),
      teeSection(tee),
      actorsSection(status),
    ].filter(Boolean),
  };
}
