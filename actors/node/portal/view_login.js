// The log-in page: a user's API token (joconde-node user add) is exchanged for a session cookie;
// the token itself is not kept by the browser. Logged in, the person lands on the page they asked for
// (afterLogin: a link they followed, or the page where their session ended), else at their home.

import {h} from './dom.js';
import {login} from './session.js';
import {act, field, outcome} from './ui.js';

export async function loginPage({go, message, afterLogin}) {
  const token = field('API token', 'input', {type: 'password', name: 'token', autocomplete: 'off',
    required: true, spellcheck: 'false'},
  'The token your node\'s administrator gave you (it starts with jct_).');
  const out = outcome();
  const submit = h('button', {type: 'submit'}, 'Log in');
  const form = h('form', {id: 'login', class: 'card'}, token.row, h('div', {class: 'actions'}, submit), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const ok = await act(submit, out, async () => {
      await login(token.input.value.trim());
    }, 'Logging in…');
    token.input.value = '';
    if (ok)
      go(afterLogin());
  });
  return {
    title: 'Log in',
    nodes: [message ? h('p', {class: 'notice', role: 'status'}, message) : null, form].filter(Boolean),
  };
}
