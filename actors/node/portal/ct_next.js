// The person's own next step on a CT's page, at its top: the steps of the CT's progress (to_do) that
// wait for one of this person's roles at this node, each a button that takes them to the form
// further down the page where they do it ("Sign the CTSA", "Upload persons", ...). A step whose form
// the page does not offer (a role this node cannot act with) is not shown.

import {h} from './dom.js';
import {has} from './session.js';

/// What the button says and where its form is, for a to-do step `t` (null: no form for it).
function stepOf(t) {
  const subject = String(t.subject ?? '');
  const slot = `section[data-slot="${CSS.escape(subject)}"]`;
  switch (t.action) {
  case 'submit_ctsa':
    return {label: /corrected/.test(t.what ?? '') ? 'Submit a corrected CTSA' : 'Submit the CTSA', target: '#ctsa'};
  case 'sign':
    return {label: 'Sign the CTSA', target: '#sign'};
  case 'approve':
    return {label: `Approve or reject the CTSA of ${subject}`, target: `.decision[data-peer="${CSS.escape(subject)}"]`};
  case 'upload':
    return subject ? {label: `Upload ${subject}`, target: slot} : null;
  case 'download':
    return subject ? {label: `Download ${subject}`, target: slot} : null;
  default:
    return null;
  }
}

/// The first control of `el` a person can use.
function firstControl(el) {
  return el.querySelector('input:not([type=hidden]):not([disabled]), select:not([disabled]), '
    + 'textarea:not([disabled]), button:not([disabled]), a[href]');
}

/// Brings `target` into view and puts the keyboard on its first control.
function goTo(target) {
  target.scrollIntoView({block: 'start'});
  const control = firstControl(target);
  if (control)
    control.focus({preventScroll: true});
}

/// The "Your turn" section for the steps of `cta` that are this person's (`mine(who)`: at their
/// node) and whose forms are among `actions` (the page's action sections); null when none is.
export function nextStepSection(cta, mine, actions) {
  const found = (selector) => {
    for (const a of actions) {
      if (a.matches(selector))
        return a;
      const inside = a.querySelector(selector);
      if (inside)
        return inside;
    }
    return null;
  };
  const items = [];
  for (const t of cta.progress?.to_do ?? []) {
    if (!t.role || !has(t.role) || !mine(t.who))
      continue;
    const step = stepOf(t);
    const target = step ? found(step.target) : null;
    if (!target)
      continue;
    items.push(h('li', {class: 'next-step', 'data-action': t.action, 'data-subject': t.subject || false},
      h('button', {type: 'button', class: 'go-step', onclick: () => goTo(target)}, step.label),
      h('span', {class: 'hint'}, ` ${t.what}`)));
  }
  if (items.length === 0)
    return null;
  return h('section', {id: 'your-turn', class: 'card lead', 'aria-labelledby': 'your-turn-h'},
    h('h2', {id: 'your-turn-h'}, 'Your turn'),
    h('ul', {class: 'plain'}, items));
}
