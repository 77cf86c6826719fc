// One CT's page: the person's own next step (if the CT waits for them), where it stands and who
// must act next, then what this person can do now, then the agreement itself, its members and
// addenda, and the computation's events. A CT that has ended takes its keys out of this browser.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {agreementActions} from './ct_actions.js';
import {dataActions} from './ct_data.js';
import {nextStepSection} from './ct_next.js';
import {forgetKeysOf} from './keystore.js';
import {addendaSection, ctscSection, membersSection, progressSection, runSection} from './ct_render.js';
import {atRoot, has, session} from './session.js';

export async function ctPage({uuid, go, message}) {
  const cta = await api.get(`/v1/ctas/${seg(uuid)}`);
  let forgotten = null;
  if (['finished', 'cancelled', 'erased'].includes(cta.status)) {
    const removed = await forgetKeysOf(uuid).catch(() => 0);
    if (removed > 0)
      forgotten = h('p', {class: 'notice', role: 'status', id: 'keys-forgotten'},
        `The CT has ended: its ${removed} key(s) kept in this browser were removed.`);
  }
  const here = `#/ct/${seg(uuid)}`;
  // After an action: the page again, as the node now holds the CT, with what was done on top.
  const ctx = {uuid, cta, done: (text) => go(here, text)};
  const actions = [...agreementActions(ctx), ...await dataActions(ctx)];
  const mine = (who) => who === session().node || (atRoot() && who === 'the System Operator');
  return {
    title: cta.title || cta.ctsc?.title || 'Computation Task',
    nodes: [
      message ? h('p', {class: 'notice', role: 'status', id: 'notice'}, message) : null,
      forgotten,
      nextStepSection(cta, mine, actions),
      progressSection(cta, mine, () => go(here)),
      actions.length ? h('section', {id: 'actions', 'aria-labelledby': 'actions-h'},
        h('h2', {id: 'actions-h'}, 'What you can do'), actions) : null,
      ctscSection(cta),
      membersSection(cta),
      addendaSection(cta),
      runSection(cta, {open: has('auditor')}),
    ].filter(Boolean),
  };
}
