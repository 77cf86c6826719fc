// The log-in page, two ways: a user's name and portal password (joconde-node user password; the
// default), or their API token (joconde-node user add). Either is exchanged for a session cookie and
// not kept by the browser. The node's refusals are shown as it words them: an unknown user or wrong
// password (401), and after repeated failures the wait it imposes (429, Retry-After), during which
// even the right password is refused. Logged in, the person lands on the page they asked for
// (afterLogin: a link they followed, or the page where their session ended), else at their home.
// Where the node has an OpenID Connect log-in (GET /v1/oidc), a third way comes first: a link to the
// node's /v1/oidc/login, which sends the browser to the organisation's identity provider and back,
// logged in, to the page asked for; a failure comes back as #/login?oidc_error=CODE, said here.

import {h} from './dom.js';
import {identityProvider, identityProviderLogin, login, loginWithPassword} from './session.js';
import {errorBox, field, outcome} from './ui.js';

/// What the person reads when a log-in at the identity provider failed, by the node's code.
const oidcRefusals = {
  denied: ['You did not log in at your identity provider: the log-in was cancelled there, or it refused it.',
    'Try again, or log in another way.'],
  state: ['The answer of your identity provider came too late, or to another browser or tab than the one '
    + 'where the log-in started.', 'Start again from this page, in this tab.'],
  token: ['Your identity provider did not confirm your log-in to this node.',
    'Try again. If it happens again, tell your IT administrator: the node\'s log says what went wrong.'],
  invalid_token: ['The node could not trust what your identity provider said about you (its signature, '
    + 'issuer, audience, validity or nonce was wrong), so it did not log you in.',
    'Tell your IT administrator: the node\'s log says what went wrong.'],
  no_role: ['You logged in at your identity provider, but none of your groups gives you a role at this node: '
    + 'ask your IT administrator.'],
  unavailable: ['The node could not reach your identity provider.',
    'Try again in a while, or log in another way. If it lasts, tell your IT administrator.'],
};

/// Why the log-in at the identity provider failed, for the node's `code` (from the page's address:
/// shown only as text, and only when it looks like a code).
function oidcRefusal(code) {
  const known = Object.hasOwn(oidcRefusals, code);
  const shown = /^[a-z0-9_]{1,32}$/.test(code) ? code : '';
  const [why, what] = known ? oidcRefusals[code]
    : ['Your log-in at your identity provider did not succeed.',
      `Try again, or log in another way. If it happens again, tell your IT administrator${shown ? ` (code ${shown})` : ''}.`];
  return h('div', {class: 'error', role: 'alert', id: 'oidc-refused', 'data-code': code.slice(0, 32)},
    h('p', {}, `Not logged in. ${why}`),
    what ? h('p', {}, what) : null);
}

/// The way through the organisation's identity provider (`label`), leading back to `then`.
function oidcWay(label, then) {
  return h('section', {class: 'card oidc-way', 'aria-labelledby': 'oidc-heading'},
    h('h2', {id: 'oidc-heading'}, 'Your organisation\'s account'),
    h('p', {class: 'hint'}, 'You log in at your organisation\'s identity provider, which sends you back here.'),
    h('p', {class: 'actions'},
      h('a', {class: 'button', id: 'oidc-login', href: identityProviderLogin(then)}, `Log in with ${label}`)));
}

/// The clock time `seconds` from now, as the person reads it.
function inSeconds(seconds) {
  return new Date(Date.now() + seconds * 1000).toLocaleTimeString('en-GB');
}

/// What the person reads when the node refuses the log-in `err`.
function refusalOf(err, withToken) {
  if (err.status === 429) {
    const wait = err.retryAfter;
    return h('div', {class: 'error', role: 'alert', id: 'login-refused', 'data-status': '429'},
      h('p', {}, `Not logged in: ${err.message}.`),
      h('p', {}, wait ? `Wait ${wait} s (until ${inSeconds(wait)}): until then the node refuses every log-in with a `
        + 'password for this user or from this computer, even the right one.'
        : 'Wait a while: until then the node refuses even the right password.'));
  }
  if (err.status === 401)
    return h('div', {class: 'error', role: 'alert', id: 'login-refused', 'data-status': '401'},
      h('p', {}, `Not logged in: ${err.message}.`),
      h('p', {}, withToken ? 'Check the token (it starts with jct_): a new token replaces the old one.'
        : 'Check the user name and the password and try again. After 5 failures the node makes you wait.'));
  return errorBox(err);
}

export async function loginPage({go, message, afterLogin, wanted, query}) {
  const provider = await identityProvider();
  const refusedCode = query?.get('oidc_error') ?? null;
  const byPassword = h('input', {type: 'radio', name: 'method', value: 'password', id: 'login-by-password',
    checked: true});
  const byToken = h('input', {type: 'radio', name: 'method', value: 'token', id: 'login-by-token'});
  const method = h('fieldset', {class: 'method'},
    h('legend', {}, 'Log in with'),
    h('div', {class: 'choice'}, byPassword, h('label', {for: 'login-by-password'}, 'User name and password')),
    h('div', {class: 'choice'}, byToken, h('label', {for: 'login-by-token'}, 'API token')));

  const user = field('User name', 'input', {type: 'text', name: 'user', autocomplete: 'username', required: true,
    spellcheck: 'false', autocapitalize: 'none'});
  const password = field('Password', 'input', {type: 'password', name: 'password', autocomplete: 'current-password',
    required: true},
  'Your portal password, which your node\'s administrator set (joconde-node user password).');
  const token = field('API token', 'input', {type: 'password', name: 'token', autocomplete: 'off',
    required: true, spellcheck: 'false'},
  'The token your node\'s administrator gave you (it starts with jct_).');
  // The way not chosen is hidden and disabled: its fields are neither shown nor required.
  const passwordWay = h('fieldset', {class: 'way', id: 'login-password'}, user.row, password.row);
  const tokenWay = h('fieldset', {class: 'way', id: 'login-token', hidden: true, disabled: true}, token.row);

  const out = outcome();
  const submit = h('button', {type: 'submit'}, 'Log in');
  const form = h('form', {id: 'login', class: 'card'}, method, passwordWay, tokenWay,
    h('div', {class: 'actions'}, submit), out);

  const choose = () => {
    const withToken = byToken.checked;
    tokenWay.hidden = !withToken;
    tokenWay.disabled = !withToken;
    passwordWay.hidden = withToken;
    passwordWay.disabled = withToken;
    out.replaceChildren();
  };
  byPassword.addEventListener('change', choose);
  byToken.addEventListener('change', choose);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const withToken = byToken.checked;
    submit.disabled = true;
    out.replaceChildren(h('p', {class: 'working'}, 'Logging in…'));
    let ok = false;
    try {
      if (withToken)
        await login(token.input.value.trim());
      else
        await loginWithPassword(user.input.value.trim(), password.input.value);
      ok = true;
    } catch (err) {
      out.replaceChildren(refusalOf(err, withToken));
    } finally {
      token.input.value = '';
      password.input.value = '';
      submit.disabled = false;
    }
    if (ok) {
      go(afterLogin());
      return;
    }
    // Refused: the secret is typed again where it was.
    (withToken ? token.input : password.input).focus();
  });
  return {
    title: 'Log in',
    nodes: [
      message ? h('p', {class: 'notice', role: 'status'}, message) : null,
      refusedCode !== null ? oidcRefusal(refusedCode) : null,
      provider ? oidcWay(provider.label, wanted?.() ?? '') : null,
      provider ? h('h2', {class: 'login-or'}, 'Or with an account of this node') : null,
      form,
    ].filter(Boolean),
  };
}
