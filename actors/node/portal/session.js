// Who is logged in here: the session the node keeps behind its HttpOnly cookie (user, roles, node
// and its role, CSRF token, how it was opened), and the ways to open one.

import {api, setCsrfToken} from './api.js';

let current = null;

function adopt(doc) {
  if (!doc || typeof doc.user !== 'string' || !Array.isArray(doc.roles) || typeof doc.csrf_token !== 'string')
    throw new Error('the node answered a session without user, roles and CSRF token');
  current = doc;
  setCsrfToken(doc.csrf_token);
}

/// Forgets the session on this side (the cookie is the node's to clear).
export function forget() {
  current = null;
  setCsrfToken('');
}

/// The session document {user, roles, node, node_role, csrf_token, via, idle_timeout_s}, or null.
export function session() {
  return current;
}

export function has(role) {
  return current !== null && current.roles.includes(role);
}

/// Whether this node is the root, where the System Operator approves and cancels.
export function atRoot() {
  return current !== null && current.node_role === 'root';
}

/// Whether this person works on the agreements themselves (the list of CTAs is their page).
export function worksOnCtas() {
  return current !== null && current.roles.some((r) => ['task_organiser', 'signatory', 'approver', 'data_custodian',
    'data_analyst', 'auditor'].includes(r));
}

/// The page a person starts at: the CTAs for those who work on them, the General Manager's own list
/// of the organisation's CTs, the IT Administrator's page of the node.
export function home() {
  if (current === null)
    return '#/login';
  if (worksOnCtas())
    return '#/ctas';
  if (has('general_manager'))
    return '#/ours';
  if (has('it_admin'))
    return '#/node';
  return '#/ctas';
}

/// What GET /v1/oidc said (a promise), asked once per page load.
let identityProviderAnswer = null;

/// The node's answer to GET /v1/oidc as {label}, or null when it offers no such log-in.
function providerOf(doc) {
  if (!doc || doc.enabled !== true)
    return null;
  const label = typeof doc.label === 'string' ? doc.label.trim().slice(0, 80) : '';
  return {label: label || 'your organisation\'s identity provider'};
}

/// The node's log-in through the organisation's identity provider (OpenID Connect): {label}, or null
/// when the node has none (GET /v1/oidc: 404) or cannot say.
export function identityProvider() {
  if (!identityProviderAnswer) {
    identityProviderAnswer = api.get('/v1/oidc').then(providerOf, (e) => {
      // 404: the node has none; anything else: asked again when the log-in page is drawn again.
      if (e.status !== 404)
        identityProviderAnswer = null;
      return null;
    });
  }
  return identityProviderAnswer;
}

/// Where the browser goes to log in at the identity provider: the node sends it on (GET
/// /v1/oidc/login) and, once logged in, back to the portal's page `then` (a hash; '' for home).
export function identityProviderLogin(then) {
  return then ? `/v1/oidc/login?then=${encodeURIComponent(then)}` : '/v1/oidc/login';
}

/// Exchanges a user's API token for a session (the node sets the cookie).
export async function login(token) {
  adopt(await api.post('/v1/sessions', {token}));
}

/// Exchanges a user's name and portal password (joconde-node user password) for a session.
export async function loginWithPassword(user, password) {
  adopt(await api.post('/v1/sessions', {user, password}));
}

/// The session of a reloaded page, or null when there is none.
export async function resume() {
  try {
    adopt(await api.get('/v1/session'));
  } catch (e) {
    if (e.status === 401)
      return null;
    throw e;
  }
  return current;
}

/// Ends the session at the node, and here whatever the node answers.
export async function logout() {
  try {
    await api.del('/v1/session');
  } finally {
    forget();
  }
}
