// The portal's shell: a hash router (#/login, #/ctas, #/ours, #/ct/UUID, #/draft, #/approvals,
// #/node, #/audit), the navigation for the person's roles (only the pages they can use), and the session's
// start and end. Each page is a module whose function resolves to {title, nodes}; the shell puts the
// title in an <h1> and the nodes under it. A page asked for without a session (a link in an e-mail,
// a session that ended) is remembered: the log-in page leads there once the person is logged in.

import {onUnauthorised} from './api.js';
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
/// A message for the next page shown (e.g. why the person is at the log-in page).
let flash = '';
/// The number of the latest render: a slower, older one that finishes later is dropped.
let rendering = 0;
/// Where the person wanted to go before logging in (kept in this tab across a reload of the log-in
/// page; only a page of the portal's own, never a URL).
const afterLoginKey = 'joconde.after-login';

const uuidPattern = /^\/ct\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

function routeOf(hash) {
  const path = hash.replace(/^#/, '');
  if (path === '/login')
    return {page: loginPage, open: true};
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
  const message = flash;
  flash = '';
  main.setAttribute('aria-busy', 'true');
  let content;
  try {
    content = await route.page({uuid: route.uuid, go, message, afterLogin});
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
  window.addEventListener('hashchange', () => render());
  render(false);
}

start();
