// What the people of the agreement do on a CT's page, each shown only to the role that may do it:
// the Task Organiser submits this peer's CTSA or cancels; a Signatory signs the CTSA with a
// signature document; the System Operator (approver, at the root) decides on each signed CTSA and
// may cancel; the IT Administrator accepts, for this CT only, a member this node has not confirmed.
// The General Manager of a peer (or of the System Operator, at the root) may cancel too.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {peopleTables} from './ct_render.js';
import {decisionForm} from './decision.js';
import {toBase64} from './encoding.js';
import {groupedHex} from './fingerprint.js';
import {atRoot, has, session} from './session.js';
import {act, field, outcome} from './ui.js';

/// The largest signature document sent in the CTA (which travels in one envelope of at most 4 MiB).
const maxDocumentBytes = 3 << 20;

function card(id, title, ...children) {
  return h('section', {class: 'card action', id, 'aria-labelledby': `${id}-h`},
    h('h3', {id: `${id}-h`}, title), ...children);
}

/// The Task Organiser's CTSA: the signatories by name (the node adds every PAK registered here).
function ctsaForm(ctx, own) {
  const names = h('div', {class: 'signatories'});
  const more = h('button', {type: 'button', class: 'secondary', id: 'ctsa-add-signatory'}, 'Add another signatory');
  /// The labels say each signatory's number again once one is removed.
  const renumber = () => [...names.children].forEach((row, i) => {
    row.querySelector('label').textContent = `Signatory ${i + 1}: name`;
    const remove = row.querySelector('.remove-signatory');
    if (remove)
      remove.textContent = `Remove signatory ${i + 1}`;
  });
  const addName = () => {
    const n = names.children.length + 1;
    const f = field(`Signatory ${n}: name`, 'input', {type: 'text', required: true, class: 'signatory-name',
      autocomplete: 'name'});
    if (n > 1) {
      // An added signatory can be taken back; the keyboard then goes to "Add another signatory".
      const remove = h('button', {type: 'button', class: 'secondary remove-signatory'}, `Remove signatory ${n}`);
      remove.addEventListener('click', () => {
        f.row.remove();
        renumber();
        more.focus();
      });
      f.row.append(remove);
    }
    names.append(f.row);
    return f.input;
  };
  addName();
  more.addEventListener('click', () => addName().focus());
  const submit = h('button', {type: 'submit', id: 'ctsa-submit'}, 'Submit the CTSA');
  const out = outcome();
  const form = h('form', {id: 'ctsa-form'},
    h('p', {}, own ? `This peer's CTSA is ${own.status} (version ${own.version}); a new version replaces it and `
      + 'its signatures start over.' : 'This peer has not submitted its CTSA.'),
    h('p', {class: 'hint'}, 'The node names every data custodian and analyst whose key (PAK) is registered here '
      + 'for this CT: they make their keys before you submit.'),
    names, h('div', {class: 'actions'}, more, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const signatories = [...names.querySelectorAll('input')].map((i) => ({name: i.value.trim()}))
        .filter((s) => s.name);
      const r = await api.post(`/v1/ctas/${seg(ctx.uuid)}/ctsa`, {signatories});
      ctx.done(`Submitted the CTSA of ${r.peer} (${signatories.length} signator${signatories.length === 1 ? 'y' : 'ies'}); `
        + 'the root accepted it. Its signatories sign it next.');
    }, 'Submitting: this node signs the CTSA and the root checks it…');
  });
  return card('ctsa', 'Submit this peer\'s CTSA', form);
}

/// A Signatory signs this peer's current CTSA with their signature document, having read whom it
/// names: its signatories (who signed already), its data custodians and analysts with their slots
/// and the SHA-256 of their keys (which each of them can compare with the one their page shows).
function signForm(ctx, own) {
  const named = own.people?.signatories ?? [];
  const who = field('You are', 'select', {id: 'signatory-index'});
  const firstUnsigned = named.find((s) => !s.signed);
  for (let i = 0; i < Number(own.signatories); i += 1) {
    const s = named.find((n) => Number(n.index) === i);
    const label = s ? `${s.name} (signatory ${i + 1} of ${own.signatories})${s.signed ? ', signed already' : ''}`
      : `signatory ${i + 1} of ${own.signatories}`;
    who.input.append(h('option', {value: String(i), selected: firstUnsigned && Number(firstUnsigned.index) === i},
      label));
  }
  const doc = field('Signature document', 'input', {type: 'file', id: 'signature-file', required: true},
    'The signed page of the agreement (a scan) or an electronic signature container, at most 3 MiB.');
  const submit = h('button', {type: 'submit', id: 'sign-submit'}, 'Sign the CTSA');
  const out = outcome();
  const form = h('form', {id: 'sign-form'},
    h('p', {}, `This peer's CTSA version ${own.version} (SHA-256 `, h('code', {class: 'wrap'}, own.ctsa_sha256),
      `) waits for its signatories: ${own.signatures ?? 0} of ${own.signatories} signed. Read whom it names, and `
      + 'the agreement below, before you sign.'),
    h('h4', {}, 'Whom this CTSA names'),
    own.people ? peopleTables(own.people, 'sign-people')
      : h('p', {}, 'This node does not say whom the CTSA names: read it with the CLI (joconde cta show) first.'),
    who.row, doc.row, h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const file = doc.input.files[0];
      if (!file)
        throw new Error('choose the signature document');
      if (file.size > maxDocumentBytes)
        throw new Error('the document is larger than 3 MiB: attach it by its SHA-256 with the CLI '
          + '(joconde cta sign) and keep the file out of band');
      const data = toBase64(new Uint8Array(await file.arrayBuffer()));
      const index = Number(who.input.value);
      await api.post(`/v1/ctas/${seg(ctx.uuid)}/signatures`, {signatory: index,
        document: {name: file.name, media_type: file.type || 'application/octet-stream', data}});
      ctx.done(`Signed the CTSA as signatory ${index + 1}; the root recorded the signature.`);
    }, 'Signing: the root records the signature…');
  });
  return card('sign', 'Sign this peer\'s CTSA', form);
}

/// Cancels the CTA: a peer's Task Organiser at its node, the System Operator at the root.
function cancelForm(ctx) {
  const reason = field('Reason for cancelling', 'textarea', {id: 'cancel-reason', rows: 2, required: true,
    maxlength: '1024'}, 'Every member reads it. A cancelled CT cannot be resumed.');
  const submit = h('button', {type: 'submit', id: 'cancel-submit', class: 'danger'}, 'Cancel the CT');
  const out = outcome();
  const form = h('form', {id: 'cancel-form'}, reason.row, h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const why = reason.input.value.trim();
      if (!why)
        throw new Error('give the reason');
      await api.post(`/v1/ctas/${seg(ctx.uuid)}/cancel`, {reason: why});
      ctx.done('Cancelled: the root tells every member.');
    }, 'Cancelling…');
  });
  return card('cancel', 'Cancel the CT', form);
}

/// The IT Administrator accepts `member`, unconfirmed at this node, for this CT only (SYS-2.1).
function overrideForm(ctx, member) {
  const role = String(member.role ?? '').replaceAll('_', ' ');
  const reason = field(`Why this node accepts ${member.fqdn}`, 'textarea', {rows: 2, required: true,
    maxlength: '1024', class: 'override-reason'},
  'For example: its operator read the fingerprint out on a recorded call. It goes into this node\'s audit log '
    + 'and is shown with the member on this page.');
  const submit = h('button', {type: 'submit', class: 'override-submit'}, 'Accept this member for this CT');
  const out = outcome();
  const form = h('form', {class: 'override-form', 'data-member': member.fqdn},
    h('h4', {}, `${member.fqdn} (${role})`),
    h('p', {}, 'Its certificate fingerprint, which this node has not compared out of band:'),
    groupedHex(member.fingerprint, `the fingerprint of ${member.fqdn}`),
    reason.row, h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, out, async () => {
      const why = reason.input.value.trim();
      if (!why)
        throw new Error('give the reason');
      const r = await api.post(`/v1/ctas/${seg(ctx.uuid)}/overrides`, {member: member.fqdn, reason: why});
      ctx.done(`Accepted ${r.member} for this CT only; the node's Task Organiser can now submit its CTSA.`);
    }, 'Recording the acceptance…');
  });
  return form;
}

/// The sections of the agreement's actions this person may take now, in the order they come.
export function agreementActions(ctx) {
  const {cta} = ctx;
  const self = session().node;
  const emerging = cta.status === 'emerging';
  const live = emerging || cta.status === 'instantiated';
  const isPeer = (cta.ctsc?.peers ?? []).some((p) => p.fqdn === self);
  const own = (cta.addenda ?? []).find((a) => a.peer === self);
  const out = [];
  if (emerging && isPeer && has('task_organiser') && own?.status !== 'approved')
    out.push(ctsaForm(ctx, own));
  if (emerging && has('signatory') && own?.status === 'submitted')
    out.push(signForm(ctx, own));
  if (emerging && has('approver') && atRoot()) {
    const signed = (cta.addenda ?? []).filter((a) => a.status === 'signed');
    if (signed.length)
      out.push(card('decide', 'Decide on the signed CTSAs', signed.map((a) => decisionForm(ctx.uuid, a, ctx.done))));
  }
  const unconfirmed = (cta.members ?? []).filter((m) => m.trust === 'unconfirmed');
  if (emerging && has('it_admin') && unconfirmed.length)
    out.push(card('override', 'Accept a member for this CT',
      h('p', {class: 'warning'}, 'This node commits to no CT naming a member whose fingerprint it has not confirmed. '
        + 'Better: compare the fingerprint with that node\'s operator and confirm it (joconde-node trust confirm), '
        + 'which holds for every CT. Accept a member here for this CT only, and say why.'),
      unconfirmed.map((m) => overrideForm(ctx, m))));
  const mayCancel = (isPeer && (has('task_organiser') || has('general_manager')) && !atRoot())
    || ((has('approver') || has('general_manager')) && atRoot());
  if (live && mayCancel)
    out.push(cancelForm(ctx));
  return out;
}
