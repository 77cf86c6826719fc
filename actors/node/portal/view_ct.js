// One CT's page: the person's own next step (if the CT waits for them), where it stands and who
// must act next, then what this person can do now, then the agreement itself, its members and
// addenda, and the computation's events.

import {api, seg} from './api.js';
import {h} from './dom.js';
import {agreementActions} from './ct_actions.js';
import {dataActions} from './ct_data.js';
import {nextStepSection} from './ct_next.js';
import {addendaSection, ctscSection, membersSection, progressSection, runSection} from './ct_render.js';
import {atRoot, has, session} from './session.js';

export async function ctPage({uuid, go, message}) {
  const cta = await api.get(`/v1/ctas/${seg(uuid)}`);
  const here = `#/ct/${seg(uuid)}`;
  // After an action: the page again, as the node now holds the CT, with what was done on top.
  const ctx = {uuid, cta, done: (text) => go(here, text)};
  const actions = [...agreementActions(ctx), ...await dataActions(ctx)];
  const mine = (who) => who === session().node || (atRoot() && who === 'the System Operator');
  return {
    title: cta.title || cta.ctsc?.title || 'Computation Task',
    nodes: [
      message ? h('p', {class: 'notice', role: 'status', id: 'notice'}, message) : null,
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
