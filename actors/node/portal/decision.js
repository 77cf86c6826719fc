// The System Operator's decision on a peer's CTSA, at the root (POST /v1/ctas/{uuid}/decisions):
// approve, or reject with a reason the peer reads, having read whom the CTSA names. Used on the
// approvals queue and the CT page.

import {api, seg} from './api.js';
import {peopleTables} from './ct_render.js';
import {h, uid} from './dom.js';
import {act, field, outcome} from './ui.js';

/// The decision form for the addendum `addendum` of CT `uuid`; `done(text)` runs after the root
/// recorded it.
export function decisionForm(uuid, addendum, done) {
  const reason = field(`Reason for rejecting the CTSA of ${addendum.peer}`, 'input', {type: 'text', maxlength: '1024'},
    'Needed to reject; the peer reads it and may submit a corrected CTSA.');
  const approve = h('button', {type: 'button', class: 'approve', 'data-peer': addendum.peer},
    `Approve ${addendum.peer}`);
  const reject = h('button', {type: 'button', class: 'reject danger', 'data-peer': addendum.peer},
    `Reject ${addendum.peer}`);
  const out = outcome();
  const decide = (button, approved) => act(button, out, async () => {
    const why = reason.input.value.trim();
    if (!approved && !why) {
      reason.input.focus();
      throw new Error('give the reason for the rejection');
    }
    const r = await api.post(`/v1/ctas/${seg(uuid)}/decisions`, {peer: addendum.peer, approve: approved, reason: why});
    done(`${approved ? 'Approved' : 'Rejected'} the CTSA of ${addendum.peer} (version ${addendum.version}); `
      + `the agreement is ${r.status}.`);
  });
  approve.addEventListener('click', () => decide(approve, true));
  reject.addEventListener('click', () => decide(reject, false));
  return h('div', {class: 'decision', 'data-peer': addendum.peer},
    h('p', {}, `CTSA of ${addendum.peer}, version ${addendum.version}: ${addendum.signatures ?? 0} of `
      + `${addendum.signatories} signatures, ${addendum.data_custodians} data custodian(s), `
      + `${addendum.data_analysts} data analyst(s).`),
    addendum.people ? h('details', {class: 'people-details'},
      h('summary', {}, `Whom the CTSA of ${addendum.peer} names`),
      peopleTables(addendum.people, uid('decide-people'))) : null,
    h('div', {class: 'actions'}, approve), reason.row, h('div', {class: 'actions'}, reject), out);
}
