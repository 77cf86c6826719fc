// The portal's shell: a hash router (#/login, #/ctas, #/ours, #/ct/UUID, #/draft, #/approvals,
// #/node, #/audit), the navigation for the person's roles (only the pages they can use), and the session's
// start and end. Each page is a module whose function resolves to {title, nodes}; the shell puts the
// title in an <h1> and the nodes under it. A page asked for without a session (a link in an e-mail,
// a session that ended) is remembered: the log-in page leads there once the person is logged in.

import {lastCallAt, onUnauthorised} from './api.js';
import {h} from './dom.js';
import {atRoot, forget, has, home, logout, resume, session} from './session.js';
import {errorBox} from './ui.js';
import {approvalsPage} from './view_approvals.js';
import {auditPage} from './view_audit.js';
import {ctPage} from './view_ct.js';
import {ctasPage} from './view_ctas.js';
import {draftPage} from './view_draft.js';
import {loginPage} from './view_login.js';
import {nodePage} from './view_node.js';
import {oursPage} from './view_ours.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
/// The warning that the session is about to end for want of activity: a live region there from the
/// start (so that screen readers announce what appears in it), between the navigation and the page.
const idleNotice = h('div', {id: 'session-timeout', 'aria-live': 'assertive'});
main.before(idleNotice);
/// How long before the node ends an idle session the portal warns (ms), and how often it looks.
const warnBeforeMs = 2 * 60 * 1000;
const idleCheckMs = 5000;
/// What the notice shows: '' (nothing), 'warning' or 'kept' (the person chose to stay).
let idleShown = '';
/// A message for the next page shown (e.g. why the person is at the log-in page).
let flash = '';
/// The number of the latest render: a slower, older one that finishes later is dropped.
let rendering = 0;
/// Where the person wanted to go before logging in (kept in this tab across a reload of the log-in
/// page; only a page of the portal's own, never a URL).
const afterLoginKey = 'joconde.after-login';

const uuidPattern = /^\/ct\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

function routeOf(hash) {
  // Only the log-in page takes a query (#/login?oidc_error=CODE: how a log-in at the identity
  // provider failed, as the node's callback says).
  const bare = hash.replace(/^#/, '');
  const cut = bare.indexOf('?');
  const path = cut < 0 ? bare : bare.slice(0, cut);
  if (path === '/login')
    return {page: loginPage, open: true, query: new URLSearchParams(cut < 0 ? '' : bare.slice(cut + 1))};
  if (cut >= 0)
    return null;
  if (path === '/ctas')
    return {page: ctasPage};
  if (path === '/draft')
    return {page: draftPage};
  if (path === '/approvals')
    return {page: approvalsPage};
  if (path === '/ours')
    return {page: oursPage};
  if (path === '/node')
    return {page: nodePage};
  if (path === '/audit')
    return {page: auditPage};
  const m = uuidPattern.exec(path);
  return m ? {page: ctPage, uuid: m[1].toLowerCase()} : null;
}

/// Remembers `hash` as the page to show after the log-in, if it is one of the portal's pages that
/// need a session.
function rememberForLogin(hash) {
  const route = routeOf(hash);
  if (!route || route.open)
    return;
  try {
    sessionStorage.setItem(afterLoginKey, hash);
  } catch {
    // storage refused (a private mode): the person starts at their home page instead
  }
}

/// The page remembered for after the log-in (then forgotten), or the person's home page.
function afterLogin() {
  let hash = null;
  try {
    hash = sessionStorage.getItem(afterLoginKey);
    sessionStorage.removeItem(afterLoginKey);
  } catch {
    // as above
  }
  const route = hash ? routeOf(hash) : null;
  return route && !route.open ? hash : home();
}

/// The page remembered for after the log-in, left remembered ('' when none): where a log-in at the
/// identity provider leads back to (one that fails comes back to the log-in page, still knowing it).
function wantedAfterLogin() {
  let hash = null;
  try {
    hash = sessionStorage.getItem(afterLoginKey);
  } catch {
    // as above
  }
  const route = hash ? routeOf(hash) : null;
  return route && !route.open ? hash : '';
}

function forgetAfterLogin() {
  try {
    sessionStorage.removeItem(afterLoginKey);
  } catch {
    // as above
  }
}

/// Shows `hash`, rendering again when it is the page shown already.
function go(hash, message = '') {
  flash = message;
  if (location.hash === hash)
    render();
  else
    location.hash = hash;
}

/// The pages in the navigation, each for the roles that can use it (`list`: the list a CT's page
/// belongs to).
function pagesOf() {
  const roles = session().roles;
  const pages = [];
  if (roles.some((r) => r !== 'general_manager'))
    pages.push({hash: '#/ctas', text: 'Agreements', list: true});
  if (has('general_manager'))
    pages.push({hash: '#/ours', text: 'Our CTs', list: !pages.some((p) => p.list)});
  if (has('task_organiser'))
    pages.push({hash: '#/draft', text: 'New task'});
  if (has('approver') && atRoot())
    pages.push({hash: '#/approvals', text: 'Approvals'});
  if (has('it_admin') || has('auditor')) {
    pages.push({hash: '#/node', text: 'Node'});
    pages.push({hash: '#/audit', text: 'Audit log'});
  }
  return pages;
}

function link({hash, text, list}) {
  const current = location.hash === hash || (list && location.hash.startsWith('#/ct/'));
  return h('a', {href: hash, 'aria-current': current ? 'page' : false}, text);
}

function drawChrome() {
  const s = session();
  if (!s) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  nav.replaceChildren(h('ul', {}, pagesOf().map((p) => h('li', {}, link(p)))));
  who.replaceChildren(
    h('p', {id: 'whoami'}, h('strong', {}, s.user), ` (${s.roles.join(', ')}) at `, h('span', {}, s.node)),
    h('button', {type: 'button', id: 'logout', onclick: onLogout}, 'Log out'));
}

/// The time `ms` since the epoch, as hours and minutes.
function clock(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', {hour: '2-digit', minute: '2-digit'});
}

function clearIdleNotice() {
  idleShown = '';
  idleNotice.replaceChildren();
}

/// "Stay logged in": any call keeps the session; GET /v1/session is the one that changes nothing.
async function stayLoggedIn(button) {
  button.disabled = true;
  try {
    await resume();
  } catch (e) {
    button.disabled = false;
    idleNotice.querySelector('.error')?.remove();
    idleNotice.firstChild?.append(h('p', {class: 'error', role: 'alert'}, `The node did not answer: ${e.message}`));
    return;
  }
  if (!session())
    return;  // it had ended already: the 401 leads to the log-in page
  const said = h('p', {class: 'ok', role: 'status', tabindex: '-1', id: 'session-kept'},
    `You stay logged in (until ${clock(Date.now() + Number(session().idle_timeout_s) * 1000)} if idle).`);
  idleShown = 'kept';
  idleNotice.replaceChildren(h('div', {class: 'card session-box'}, said));
  said.focus();
}

/// Looks whether the session is within two minutes of ending for want of any call to the node, and
/// warns then, with a button to stay logged in.
function watchIdle() {
  const s = session();
  const idleMs = Number(s?.idle_timeout_s) * 1000;
  const left = s && idleMs > 0 ? idleMs - (Date.now() - lastCallAt()) : Infinity;
  if (left > warnBeforeMs || left <= 0) {
    if (idleShown === 'warning')
      clearIdleNotice();
    return;
  }
  if (idleShown === 'warning')
    return;
  idleShown = 'warning';
  const stay = h('button', {type: 'button', id: 'stay-logged-in'}, 'Stay logged in');
  stay.addEventListener('click', () => stayLoggedIn(stay));
  idleNotice.replaceChildren(h('div', {class: 'card session-box warning-box', role: 'region',
    'aria-label': 'Session about to end'},
  h('p', {}, `Your session ends at ${clock(Date.now() + left)} (in about ${Math.max(1, Math.round(left / 60000))} `
    + 'minute(s)) unless you do something in the portal: the node logs out idle sessions.'),
  h('div', {class: 'actions'}, stay)));
}

async function onLogout() {
  try {
    await logout();
    forgetAfterLogin();
    go('#/login', 'You are logged out.');
  } catch (e) {
    go('#/login', `The node did not confirm the log-out: ${e.message}`);
  }
}

async function render(moveFocus = true) {
  const n = ++rendering;
  const route = routeOf(location.hash);
  if (!route) {
    location.replace(home());
    return;
  }
  if (!route.open && !session()) {
    rememberForLogin(location.hash);
    if (!flash)
      flash = 'Log in first: the portal then opens the page you asked for.';
    location.replace('#/login');
    return;
  }
  if (route.open && session()) {
    location.replace(home());
    return;
  }
  drawChrome();
  if (idleShown === 'kept' || !session())
    clearIdleNotice();
  const message = flash;
  flash = '';
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await route.page({uuid: route.uuid, query: route.query, go, message, afterLogin,
      wanted: wantedAfterLogin});
  } catch (e) {
    content = {title: 'Something went wrong', nodes: [errorBox(e)]};
  }
  if (n !== rendering)
    return;
  const heading = h('h1', {tabindex: '-1'}, content.title);
  document.title = `${content.title} — joconde Service Portal`;
  main.replaceChildren(heading, ...content.nodes);
  main.removeAttribute('aria-busy');
  // A new page: the screen reader and the keyboard start at its heading.
  if (moveFocus)
    heading.focus();
}

onUnauthorised(() => {
  if (!session())
    return;
  forget();
  rememberForLogin(location.hash);
  go('#/login', 'Your session has ended (logged out, or idle too long): log in again.');
});

async function start() {
  try {
    await resume();
  } catch (e) {
    flash = `The node cannot say whether you are logged in: ${e.message}`;
  }
  // Logged in already (back from the identity provider, or a reload): no page waits for a log-in.
  if (session())
    forgetAfterLogin();
  window.addEventListener('hashchange', () => render());
  setInterval(watchIdle, idleCheckMs);
  render(false);
}

start();
