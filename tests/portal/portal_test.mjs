// The Service Portal end to end, in headless Chromium (issue 18): the demo's Computation Task
// (ops/demo) agreed, fed and read through the portal only, each person in their own incognito
// browser at their own node (drafted from a task file; the twin with markup in its title drafted
// with the form, its Computing Parties chosen from the node's list of the nodes it knows), and the
// security twins of the portal's defences; the pages of the roles that only watch: the IT
// Administrator's and the Auditor's page of the node (identity, links, trust store, users, TEE),
// the IT Administrator's acceptance of an unconfirmed member for one CT, the General Manager's list
// of the organisation's CTs; the Auditor's log-in with a portal password (a wrong one refused
// first) and the Audit log page (its check, its records page by page, a range exported as a file).
// Every page is screenshotted and audited with axe-core (serious or critical violations fail). The
// nodes send their e-mails to a local SMTP server the test starts (smtp_sink.py: STARTTLS and AUTH
// required); each person whose turn it is reaches the CT's page by following the link in the e-mail
// they were sent, logging in first when they are not, and no e-mail carries a value of the data.
//
// Run (node 20, Debian's chromium and certutil from libnss3-tools, joconde built in BUILD_DIR):
//   cd tests/portal && npm ci && node portal_test.mjs [--build BUILD_DIR] [--source SRC] [--out DIR]
// BUILD_DIR defaults to $JOCONDE_BUILD_DIR or SRC/build, SRC to $JOCONDE_SOURCE_DIR or this
// checkout, DIR (screenshots, downloads' copies, node logs on failure) to $JOCONDE_PORTAL_ARTEFACTS
// or a fresh directory under /tmp; Chromium is $CHROMIUM or /usr/bin/chromium. With
// JOCONDE_PORTAL_FROM_SOURCE=1 the pages load the portal from SRC/actors/node/portal with the node's
// headers (portal development without rebuilding the node). The SMTP server runs on Debian's
// /usr/bin/python3 with python3-aiosmtpd. Exit code 0 only if every step passed.

import {randomBytes} from 'node:crypto';
import {existsSync, readFileSync} from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {fileURLToPath} from 'node:url';

import {Cluster, Evidence, MailSink, OidcProvider, Steps, headOf, launchBrowser, servePortalFromSource, sh, sleep,
  trustAlso, trustingHome, until} from './harness.mjs';
import {OIDC_GROUPS, oidcSteps} from './oidc_steps.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TOTAL_LIMIT_MS = 9 * 60 * 1000;
const XSS_TITLE = 'Income by region <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
const PASSPHRASE = 'correct horse battery staple';
const CLIENT_A = 'client-a.joconde.test';
const CLIENT_B = 'client-b.joconde.test';
const CP3 = 'cp3.joconde.test';
/// The demo task's schemas (ops/demo-data task) as the drafting form takes them: CREATE TABLE.
const REGIONS = "'north', 'south', 'east', 'west', 'centre', 'islands'";
const PERSONS_TABLE = `CREATE TABLE persons (\n  id KEY,\n  region CATEGORY (${REGIONS}),\n  age INTEGER RANGE [0, 130]\n)`;
const INCOME_TABLE = 'CREATE TABLE income (\n  id KEY,\n  income INTEGER RANGE [0, 500000]\n)';
const OUTPUT_TABLE = `CREATE TABLE income_by_region (\n  region CATEGORY (${REGIONS}),\n  persons INTEGER,\n`
  + '  mean_income DECIMAL(18, 2),\n  sd_income DECIMAL(18, 2)\n)';
const OVERRIDE_REASON = 'cp3\'s operator read its fingerprint out on a recorded call (ticket 4711)';
/// How long an e-mail may take once its step is due (the nodes look every 2 s).
const MAIL_WAIT_MS = 60000;

function option(name, env, fallback) {
  const i = process.argv.indexOf(name);
  if (i > 0 && process.argv[i + 1])
    return path.resolve(process.argv[i + 1]);
  return process.env[env] ? path.resolve(process.env[env]) : fallback;
}

const sourceDir = option('--source', 'JOCONDE_SOURCE_DIR', path.resolve(here, '..', '..'));
const buildDir = option('--build', 'JOCONDE_BUILD_DIR', path.join(sourceDir, 'build'));
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const fromSource = process.env.JOCONDE_PORTAL_FROM_SOURCE === '1';
const joconde = path.join(buildDir, 'bin', 'joconde');

const steps = new Steps();
const temps = [];
let outDir;
let cluster;
let browser;
let evidence;
let sink;
/// The test's OpenID Provider (oidc_idp.py), the organisation's identity provider of the nodes.
let idp;
/// The e-mails the SMTP server received, once it stopped.
let mails = [];

async function tempDir(prefix) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

// -- people ------------------------------------------------------------------------------------------

/// A person: their own incognito browser context at their node, downloads into their own directory.
async function person(label, node, role) {
  const downloads = await tempDir(`joconde-portal-dl-${label}-`);
  const context = await browser.createBrowserContext({downloadBehavior: {policy: 'allow', downloadPath: downloads}});
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  const base = cluster.url(node);
  if (fromSource)
    await servePortalFromSource(page, base, cluster.nodes[node].root_ca, path.join(sourceDir, 'actors', 'node', 'portal'));
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {label, node, role, context, page, base, downloads, errors, token: cluster.token(node, role)};
}

/// Loads the portal afresh at page `hash` (as a reload does: the session is resumed from its
/// cookie) and waits until the page is drawn (the shell's aria-busy is gone).
async function open(p, hash) {
  await p.page.goto('about:blank');
  await p.page.goto(`${p.base}/portal/index.html${hash}`, {waitUntil: 'load'});
  await p.page.waitForSelector('main:not([aria-busy]) h1');
}

async function text(p, selector) {
  return p.page.$eval(selector, (e) => e.textContent.trim());
}

/// Waits for `selector` to contain `expected` (a string or RegExp) for at most `timeoutMs`.
async function waitText(p, selector, expected, timeoutMs = 30000) {
  const pattern = expected instanceof RegExp ? expected.source : expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const flags = expected instanceof RegExp ? expected.flags : '';
  try {
    await p.page.waitForFunction((sel, src, fl) => {
      const el = document.querySelector(sel);
      return el && new RegExp(src, fl).test(el.textContent);
    }, {timeout: timeoutMs}, selector, pattern, flags);
  } catch {
    const seen = await p.page.$eval(selector, (e) => e.textContent.trim()).catch(() => '(absent)');
    const alert = await p.page.$eval('[role=alert]', (e) => e.textContent.trim()).catch(() => '');
    throw new Error(`${p.label}: ${selector} did not show ${expected} within ${timeoutMs / 1000} s (shows: ${seen.slice(0, 300)})${alert ? `; alert: ${alert}` : ''}`);
  }
}

/// Logs `p` in with their API token (the log-in page's second way; a user name and password is its
/// first); with `keyboard`, only Tab, the arrow keys, typing and Enter; with `here`, on the log-in
/// page the portal shows already (it was sent there from a page that needs a session).
async function login(p, {keyboard = false, here = false} = {}) {
  if (here)
    await p.page.waitForSelector('main:not([aria-busy]) #login');
  else
    await open(p, '#/login');
  await evidence.capture(p.page, p.label, 'login');
  if (keyboard) {
    // The ways to log in are a radio group: Tab reaches the chosen one, an arrow key chooses the next.
    await tabTo(p, '#login-by-password');
    await p.page.keyboard.press('ArrowDown');
    if (!await p.page.$eval('#login-by-token', (e) => e.checked))
      throw new Error(`${p.label}: the arrow key did not choose to log in with an API token`);
    await tabTo(p, '#login input[name=token]');
    await p.page.keyboard.type(p.token);
    await p.page.keyboard.press('Enter');
  } else {
    await p.page.click('#login-by-token');
    await p.page.type('#login input[name=token]', p.token);
    await p.page.click('#login button[type=submit]');
  }
  await waitText(p, '#whoami', p.role);
}

/// The navigation's links must be `expected` (the pages p's roles can use), in order.
async function expectNav(p, expected) {
  const seen = await p.page.$$eval('#nav a', (as) => as.map((a) => a.textContent.trim()));
  if (seen.join('|') !== expected.join('|'))
    throw new Error(`${p.label}'s navigation shows ${seen.join(', ')}, not ${expected.join(', ')}`);
}

/// A fingerprint as the portal shows it, for comparing: upper-case hex pairs with colons.
function canonical(fp) {
  return String(fp).replace(/[^0-9a-fA-F]/g, '').toUpperCase().match(/../g).join(':');
}

/// Presses Tab until `selector` has the focus (at most 80 times): proof that the keyboard reaches it.
async function tabTo(p, selector) {
  for (let i = 0; i < 80; i += 1) {
    if (await p.page.evaluate((sel) => document.activeElement?.matches(sel), selector))
      return;
    await p.page.keyboard.press('Tab');
  }
  throw new Error(`${p.label}: the keyboard (Tab) never reached ${selector}`);
}

/// Whether the focus is on `selector` (or inside it).
async function focusIn(p, selector) {
  return p.page.evaluate((sel) => !!document.activeElement?.closest(sel), selector);
}

/// The focus must be on (or inside) `selector` now: where the portal put it after `what`.
async function expectFocus(p, selector, what) {
  if (!await focusIn(p, selector)) {
    const at = await p.page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
    throw new Error(`${p.label}: after ${what} the focus is on ${at}, not on ${selector}`);
  }
}

/// Presses `key` on the control that has the focus, which must be `selector` (a keyboard press, no
/// mouse: Enter or Space on a button or link).
async function press(p, selector, key = 'Enter') {
  await expectFocus(p, selector, `Tab to ${selector}`);
  await p.page.keyboard.press(key);
}

/// Tabs to `selector` and types `value` there, replacing what the field held (Ctrl+A selects it).
async function typeIn(p, selector, value) {
  await tabTo(p, selector);
  await p.page.keyboard.down('Control');
  await p.page.keyboard.press('KeyA');
  await p.page.keyboard.up('Control');
  await p.page.keyboard.type(value);
}

/// The options the <select> `selector` offers, [{value, text}], its first (choose one) left out.
async function optionsOf(p, selector) {
  return p.page.$$eval(`${selector} option`, (os) => os.slice(1).map((o) => ({value: o.value, text: o.textContent})));
}

/// Chooses the option `value` of the <select> `selector` as a keyboard user does: Tab to it, then
/// the arrow keys (a closed select changes its choice with them).
async function chooseOption(p, selector, value) {
  await tabTo(p, selector);
  const {from, to} = await p.page.$eval(selector, (e, v) => ({from: e.selectedIndex,
    to: [...e.options].findIndex((o) => o.value === v)}), value);
  if (to < 0)
    throw new Error(`${p.label}: ${selector} offers no ${value}`);
  for (let i = from; i !== to; i += Math.sign(to - from))
    await p.page.keyboard.press(to > from ? 'ArrowDown' : 'ArrowUp');
  const chosen = await p.page.$eval(selector, (e) => e.value);
  if (chosen !== value)
    throw new Error(`${p.label}: the arrow keys chose ${chosen} in ${selector}, not ${value}`);
}

/// Chooses `file` in the file input `selector` as a keyboard user does: Tab to it, Space opens the
/// browser's file chooser, which is given the file. Now and then headless Chromium's chooser is not
/// caught (a few in a hundred): the key is pressed again, Enter then, as a person would.
async function pickFile(p, selector, file) {
  await tabTo(p, selector);
  for (const key of ['Space', 'Enter', 'Space']) {
    await expectFocus(p, selector, `choosing ${path.basename(file)}`);
    const chooser = await Promise.all([p.page.waitForFileChooser({timeout: 5000}), p.page.keyboard.press(key)])
      .then(([c]) => c, () => null);
    if (chooser) {
      await chooser.accept([file]);
      await p.page.waitForFunction((sel) => document.querySelector(sel)?.files?.length === 1, {timeout: 10000},
        selector);
      return;
    }
  }
  throw new Error(`${p.label}: Space and Enter on ${selector} opened no file chooser`);
}

// -- e-mail ------------------------------------------------------------------------------------------

/// The e-mail to `to` about CT `id` whose subject ends with `request`, waited for (bounded).
function mailTo(to, request, id, timeoutMs = MAIL_WAIT_MS) {
  return sink.waitFor(`the e-mail to ${to} "…${request}" about CT ${id}`,
    (m) => m.rcpt.includes(to) && m.subject.endsWith(request) && m.link.endsWith(`#/ct/${id}`), timeoutMs);
}

/// p follows the link in `mail` in their browser, as a mail program opens it: in a fresh page
/// load. The link must lead to the portal of p's own node.
async function follow(p, mail) {
  if (!mail.link.startsWith(`${p.base}/portal/#/ct/`))
    throw new Error(`${p.label}'s e-mail links ${mail.link}, not a CT page of ${p.base}/portal/`);
  await p.page.goto('about:blank');
  await p.page.goto(mail.link, {waitUntil: 'load'});
}

/// Waits until p's portal shows CT `id`'s page.
async function onCtPage(p, id) {
  await p.page.waitForSelector('main:not([aria-busy]) #phase');
  const hash = await p.page.evaluate(() => location.hash);
  if (hash !== `#/ct/${id}`)
    throw new Error(`${p.label} is at ${hash}, not the CT page #/ct/${id}`);
}

/// p's own next step at the top of the CT page must be `label`; p presses its button (by keyboard)
/// and the focus must land in `form`.
async function takeNextStep(p, label, form) {
  await waitText(p, '#your-turn', label);
  const buttons = await p.page.$$eval('#your-turn button.go-step', (bs) => bs.map((b) => b.textContent));
  if (!buttons.includes(label))
    throw new Error(`${p.label}'s next steps are ${buttons.join(', ')}, not ${label}`);
  const index = buttons.indexOf(label);
  await tabTo(p, `#your-turn li:nth-child(${index + 1}) button.go-step`);
  await p.page.keyboard.press('Enter');
  if (!await p.page.evaluate((sel) => !!document.activeElement?.closest(sel), form)) {
    const at = await p.page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
    throw new Error(`${p.label}'s "${label}" button took the focus to ${at}, not into ${form}`);
  }
}

/// The phase the CT page shows.
async function phaseOf(p) {
  return p.page.$eval('#phase', (e) => e.dataset.phase);
}

/// The file `name` once p's browser finished downloading it.
async function downloaded(p, name) {
  const file = path.join(p.downloads, name);
  await until(`${p.label}'s download of ${name}`, async () => existsSync(file) && !existsSync(`${file}.crdownload`),
    {timeoutMs: 30000, everyMs: 200});
  return file;
}

/// Runs the joconde CLI against the cluster.
function cli(...args) {
  return sh(joconde, ['--cluster', cluster.dir, ...args], {timeoutMs: 300000});
}

// -- the scenario ------------------------------------------------------------------------------------

async function scenario() {
  const work = await tempDir('joconde-portal-work-');
  const clusterDir = await tempDir('joconde-portal-cluster-');
  cluster = new Cluster(sourceDir, buildDir, clusterDir);
  const people = {};
  let uuid;
  let xssUuid;
  let demoTitle;
  let demoTask;

  await steps.step('an SMTP server (STARTTLS, AUTH), the cluster sending to it (ops/cluster), the demo data', async () => {
    for (const bin of ['joconde-node', 'joconde', 'joconde-vm', 'joconde-sp'])
      if (!existsSync(path.join(buildDir, 'bin', bin)))
        throw new Error(`${path.join(buildDir, 'bin', bin)} is missing: build joconde first`);
    sink = new MailSink(path.join(here, 'smtp_sink.py'), await tempDir('joconde-portal-mail-'));
    await sink.start();
    idp = new OidcProvider(path.join(here, 'oidc_idp.py'), await tempDir('joconde-portal-idp-'));
    await idp.start();
    await cluster.up([...sink.clusterOptions(), ...idp.clusterOptions(OIDC_GROUPS)]);
    const data = path.join(sourceDir, 'ops', 'demo-data');
    await sh(data, ['generate', '--rows', '1000', '--seed', '7', '--out', work]);
    await sh(data, ['task', '--out', path.join(work, 'task.json'), '--max-rows', '1000000']);
    const task = JSON.parse(readFileSync(path.join(work, 'task.json'), 'utf8'));
    delete task.tee_measurements;  // the organiser's node fills it in, as in ops/demo
    demoTitle = task.title;
    demoTask = task;
    await fs.writeFile(path.join(work, 'task.json'), `${JSON.stringify(task, null, 2)}\n`);
    const broken = {...task, main_algorithm: {...task.main_algorithm, source: task.main_algorithm.source.replace('SELECT', 'SELEC')}};
    await fs.writeFile(path.join(work, 'task-broken.json'), `${JSON.stringify(broken, null, 2)}\n`);
    await fs.writeFile(path.join(work, 'passphrase'), `${PASSPHRASE}\n`, {mode: 0o600});
    await fs.writeFile(path.join(work, 'signed.pdf'), '%PDF-1.4\n% signature page of the agreement, signed and scanned\n');
    return `${Object.keys(cluster.nodes).length} nodes in ${clusterDir}; SMTP at 127.0.0.1:${sink.port} for user ${sink.user}; `
      + `OpenID Provider ${idp.issuer}`;
  });

  await steps.step('Chromium trusts the cluster\'s root CA and the OpenID Provider\'s CA (its own NSS database)', async () => {
    const home = await trustingHome(cluster.nodes.root.root_ca);
    temps.push(home);
    await trustAlso(home, idp.ca, 'joconde test OpenID Provider CA');
    browser = await launchBrowser(chromium, home, await tempDir('joconde-portal-profile-'));
    return (await browser.version());
  });

  await steps.step('client-a task_organiser logs in (keyboard only)', async () => {
    people.orgA = await person('orgA', 'client-a', 'task_organiser');
    await login(people.orgA, {keyboard: true});
    await expectNav(people.orgA, ['Agreements', 'New task']);
    await evidence.capture(people.orgA.page, 'orgA', 'ctas-empty');
  });

  await steps.step('the node\'s headers: CSP, frame and content-type options', async () => {
    const {headers} = await headOf(`${people.orgA.base}/portal/index.html`, cluster.nodes['client-a'].root_ca);
    const csp = headers['content-security-policy'] ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"])
      if (!csp.includes(d))
        throw new Error(`the portal's Content-Security-Policy lacks ${d}: ${csp}`);
    if ((headers['x-frame-options'] ?? '').toUpperCase() !== 'DENY')
      throw new Error(`X-Frame-Options is ${headers['x-frame-options']}, not DENY`);
    if (headers['x-content-type-options'] !== 'nosniff')
      throw new Error('X-Content-Type-Options is not nosniff');
    return csp;
  });

  await steps.step('draft, by keyboard: a compile error is shown, then the demo task compiles and is created', async () => {
    const p = people.orgA;
    await open(p, '#/draft');
    // The page's second way, the task file: Tab reaches the chosen way (the form), an arrow key
    // chooses the next.
    await tabTo(p, '#draft-by-form');
    await p.page.keyboard.press('ArrowDown');
    if (!await p.page.$eval('#draft-by-file', (e) => e.checked) || await p.page.$eval('#draft-file', (e) => e.hidden))
      throw new Error('the arrow key did not choose to draft with a task file');
    // The task file opened with the file chooser that Space on the focused file input opens.
    await pickFile(p, '#task-file', path.join(work, 'task-broken.json'));
    await waitText(p, '#check [role=alert]', /compile_error/);
    const error = await text(p, '#check [role=alert]');
    await evidence.capture(p.page, p.label, 'draft-error');
    await pickFile(p, '#task-file', path.join(work, 'task.json'));
    await p.page.waitForSelector('#check-ok', {timeout: 30000});
    // Typing holds Create back until the node checked the text again, once the typing pauses.
    await tabTo(p, '#task-text');
    await p.page.keyboard.down('Control');
    await p.page.keyboard.press('End');
    await p.page.keyboard.up('Control');
    await p.page.keyboard.type(' ');
    if (!await p.page.$eval('#create', (e) => e.disabled))
      throw new Error('Create stays enabled while the text changed since its check');
    await p.page.waitForFunction(() => !document.querySelector('#create').disabled && document.querySelector('#check-ok'),
      {timeout: 30000});
    await waitText(p, '#check', 'rss3');
    await evidence.capture(p.page, p.label, 'draft-checked');
    await tabTo(p, '#create');
    await press(p, '#create');
    await p.page.waitForFunction(() => location.hash.startsWith('#/ct/'), {timeout: 60000});
    await p.page.waitForSelector('main:not([aria-busy]) #phase');
    uuid = p.page.url().split('#/ct/')[1];
    await waitText(p, '#notice', 'tee_measurements: simulated');
    if (await phaseOf(p) !== 'agreement')
      throw new Error(`a new CT is in phase ${await phaseOf(p)}, not agreement`);
    await evidence.capture(p.page, p.label, 'ct-created');
    return `${uuid}; the broken task: ${error}`;
  });

  await steps.step('client-a\'s IT administrator, by keyboard, accepts cp3 (unconfirmed at client-a) for this CT only', async () => {
    // client-a's operator withdraws the out-of-band confirmation of cp3 (joconde-node trust remove);
    // it is confirmed again at the end, whatever happened.
    const nodeBin = path.join(buildDir, 'bin', 'joconde-node');
    const dataA = cluster.nodes['client-a'].data_dir;
    const cp3 = canonical(cluster.nodes.cp3.fingerprint);
    await sh(nodeBin, ['trust', 'remove', cp3, '--dir', dataA]);
    try {
      const p = people.itA = await person('itA', 'client-a', 'it_admin');
      await login(p, {keyboard: true});
      // The IT administrator starts at the node's page; it lists the member not confirmed here.
      await p.page.waitForSelector('main:not([aria-busy]) #identity');
      await expectNav(p, ['Agreements', 'Node', 'Audit log']);
      await waitText(p, '#unconfirmed-table', CP3);
      const listed = await p.page.$eval('#unconfirmed-table tbody', (e) => e.textContent);
      if (!listed.includes(demoTitle))
        throw new Error(`the node page's unconfirmed members name no CT "${demoTitle}": ${listed}`);
      await evidence.capture(p.page, p.label, 'node-unconfirmed');
      // From there to the CT's page, by keyboard.
      await tabTo(p, `#unconfirmed-table a[href="#/ct/${uuid}"]`);
      await p.page.keyboard.press('Enter');
      const f = `.override-form[data-member="${CP3}"]`;
      await p.page.waitForSelector(`main:not([aria-busy]) ${f}`);
      const forms = await p.page.$$eval('.override-form', (fs) => fs.map((e) => e.dataset.member));
      if (forms.join() !== CP3)
        throw new Error(`the IT administrator is offered to accept ${forms.join(', ')}, not ${CP3} only`);
      const shown = await p.page.$eval(`${f} code.hex`, (e) => e.dataset.value);
      if (shown !== cp3)
        throw new Error(`the form shows cp3's fingerprint as ${shown}, not ${cp3}`);
      const members = await text(p, 'main');
      if (!members.includes('unconfirmed'))
        throw new Error('the members table does not show cp3 unconfirmed');
      if (await p.page.$('#cancel-form') || await p.page.$('#ctsa-form'))
        throw new Error('the IT administrator is offered to cancel or submit');
      await evidence.capture(p.page, p.label, 'override-form');
      await tabTo(p, `${f} .override-reason`);
      await p.page.keyboard.type(OVERRIDE_REASON);
      await p.page.keyboard.press('Tab');
      if (!await p.page.evaluate((sel) => document.activeElement?.matches(sel), `${f} .override-submit`))
        throw new Error('Tab from the reason does not reach the accept button');
      await p.page.keyboard.press('Enter');
      await waitText(p, '#notice', `Accepted ${CP3} for this CT only`, 30000);
      await waitText(p, 'main', `override: ${OVERRIDE_REASON} (by it_admin)`);
      if (await p.page.$('.override-form'))
        throw new Error('the form is still offered after the override');
      await evidence.capture(p.page, p.label, 'override-done');
    } finally {
      await sh(nodeBin, ['trust', 'confirm', cp3, '--dir', dataA]);
    }
    return `${CP3} ${cp3.slice(0, 11)}… accepted for ${uuid}, then confirmed again`;
  });

  await steps.step('custodians and client-a\'s analyst make their keys in the browser by keyboard and save its backup; client-b\'s analyst with the CLI', async () => {
    const makeKey = async (label, node, role, slot, name) => {
      const p = people[label] = await person(label, node, role);
      await login(p);
      await open(p, `#/ct/${uuid}`);
      const s = `section[data-slot="${slot}"]`;
      // The name, the passphrase twice, the button: each reached by Tab from the field before.
      await typeIn(p, `${s} .pak-name`, name);
      for (const field of ['.pak-pass', '.pak-pass2']) {
        await p.page.keyboard.press('Tab');
        await expectFocus(p, `${s} ${field}`, `Tab in the key's form`);
        await p.page.keyboard.type(PASSPHRASE);
      }
      await p.page.keyboard.press('Tab');
      await press(p, `${s} .create-key`);
      await p.page.waitForSelector(`${s} .backup a.download`, {timeout: 60000});
      // The form is gone: the keyboard is on what the portal says, the backup's link next.
      await expectFocus(p, `${s} .backup[role=status]`, 'making the key');
      p.pakSha256 = (await text(p, `${s} .key-state code`)).toLowerCase();
      await evidence.capture(p.page, label, `key-${slot}`);
      await p.page.keyboard.press('Tab');
      await press(p, `${s} .backup a.download`);
      p.backup = await downloaded(p, `joconde-key-${uuid}-${slot}.json`);
      const backup = JSON.parse(readFileSync(p.backup, 'utf8'));
      if (backup.kdf.iterations < 600000 || !backup.wrapped_pkcs8 || backup.ct_uuid !== uuid)
        throw new Error(`${label}'s backup is not what it should be`);
    };
    await makeKey('custA', 'client-a', 'data_custodian', 'persons', 'Custodian A');
    await makeKey('custB', 'client-b', 'data_custodian', 'income', 'Custodian B');
    await makeKey('anaA', 'client-a', 'data_analyst', 'income_by_region', 'Analyst A');
    await cli('--as', 'client-b:data_analyst', 'pak', 'create', uuid, '--output', 'income_by_region', '--name', 'Analyst B',
      '--out', path.join(work, 'analyst-b.key'), '--passphrase-file', path.join(work, 'passphrase'));
  });

  await steps.step('each peer\'s organiser submits its CTSA by keyboard; its signatory follows the e-mail, logs in, lands on the CT, reads whom the CTSA names and signs by keyboard', async () => {
    people.orgB = await person('orgB', 'client-b', 'task_organiser');
    await login(people.orgB);
    const notes = [];
    for (const [org, sig, node, office, custodian, analyst] of [['orgA', 'sigA', 'client-a', 'A', 'custA', 'anaA'],
      ['orgB', 'sigB', 'client-b', 'B', 'custB', null]]) {
      const o = people[org];
      const fqdn = `${node}.joconde.test`;
      const slotIn = node === 'client-a' ? 'persons' : 'income';
      await open(o, `#/ct/${uuid}`);
      await takeNextStep(o, 'Submit the CTSA', '#ctsa-form');
      await o.page.keyboard.type(`Director of office ${office}`);
      // A second signatory added and taken back again, by keyboard: the focus follows each.
      await tabTo(o, '#ctsa-add-signatory');
      await press(o, '#ctsa-add-signatory');
      await expectFocus(o, '#ctsa-form .signatory-name', '"Add another signatory"');
      const added = await o.page.evaluate(() => [document.activeElement.labels?.[0]?.textContent,
        document.querySelectorAll('#ctsa-form .signatory-name').length]);
      if (added[0] !== 'Signatory 2: name' || added[1] !== 2)
        throw new Error(`"Add another signatory" put the focus on "${added[0]}" (${added[1]} name fields)`);
      await o.page.keyboard.press('Tab');
      await press(o, '#ctsa-form .remove-signatory');
      await expectFocus(o, '#ctsa-add-signatory', '"Remove signatory 2"');
      if (await o.page.$$eval('#ctsa-form .signatory-name', (es) => es.length) !== 1)
        throw new Error('"Remove signatory 2" left the second name field');
      await evidence.capture(o.page, org, 'ctsa-form');
      await o.page.keyboard.press('Tab');
      await press(o, '#ctsa-submit');
      await waitText(o, '#notice', 'Submitted the CTSA', 60000);
      // The organiser's addenda table names the people of the CTSA just submitted.
      await waitText(o, '#addenda', `Director of office ${office} (signatory 1): not yet signed`);
      await waitText(o, '#addenda', `Custodian ${office}: ${slotIn}; PAK SHA-256`);
      await waitText(o, '#addenda', `Analyst ${office}: income_by_region; PAK SHA-256`);
      // The signatory is not logged in: the link in the e-mail shows the log-in page, then the CT.
      const s = people[sig] = await person(sig, node, 'signatory');
      const mail = await mailTo(`signatory@${node}.example`, `your turn: sign the CTSA of ${fqdn}`, uuid);
      await follow(s, mail);
      await login(s, {here: true});
      await onCtPage(s, uuid);
      await takeNextStep(s, 'Sign the CTSA', '#sign-form');
      // What the signatory signs: the people the CTSA names, their slots and keys.
      const rows = (table) => s.page.$$eval(`#sign-people-${table} tbody tr`,
        (trs) => trs.map((r) => [...r.cells].map((c) => c.textContent.trim())));
      const signatories = await rows('signatories');
      if (JSON.stringify(signatories) !== JSON.stringify([[`Director of office ${office} (signatory 1)`, 'not yet signed']]))
        throw new Error(`${sig}'s form names the signatories ${JSON.stringify(signatories)}`);
      const custodians = await rows('custodians');
      const c = people[custodian];
      if (!custodians.some(([name, slots, pak]) => name === `Custodian ${office}` && slots === slotIn && pak.toLowerCase() === c.pakSha256))
        throw new Error(`${sig}'s form names the custodians ${JSON.stringify(custodians)}, not ${c.label} with ${slotIn} and `
          + `PAK SHA-256 ${c.pakSha256}`);
      const analysts = await rows('analysts');
      const a = analyst ? people[analyst] : null;
      if (!analysts.some(([name, slots, pak]) => name === `Analyst ${office}` && slots === 'income_by_region'
        && /^[0-9a-f]{64}$/i.test(pak) && (!a || pak.toLowerCase() === a.pakSha256)))
        throw new Error(`${sig}'s form names the analysts ${JSON.stringify(analysts)}`);
      // By keyboard: who signs (the select, on the first one not signed), the document, the button.
      await tabTo(s, '#signatory-index');
      if (await s.page.$eval('#signatory-index', (e) => e.value) !== '0')
        throw new Error(`${sig}'s form chooses signatory ${await s.page.$eval('#signatory-index', (e) => e.value)}`);
      await s.page.keyboard.press('Tab');
      await expectFocus(s, '#signature-file', 'Tab from the signatory');
      await pickFile(s, '#signature-file', path.join(work, 'signed.pdf'));
      await evidence.capture(s.page, sig, 'sign-form');
      await s.page.keyboard.press('Tab');
      await press(s, '#sign-submit');
      await waitText(s, '#notice', 'Signed the CTSA', 60000);
      // The peer's own addendum, at its own node, names the signatory as having signed.
      await until(`${sig}'s addenda table to show the signature`, async () => {
        await open(s, `#/ct/${uuid}`);
        const row = await s.page.$eval('#addenda tbody tr', (r) => r.textContent).catch(() => '');
        return /1 of 1 signed/.test(row) && row.includes(`Director of office ${office} (signatory 1): signed`);
      }, {timeoutMs: 30000, everyMs: 1000});
      await evidence.capture(s.page, sig, 'signed');
      notes.push(`${sig} followed ${mail.link}`);
    }
    return notes.join('; ');
  });

  await steps.step('the root\'s approver follows the e-mail, logs in by keyboard, approves client-a on the CT page by keyboard, client-b on the queue by mouse', async () => {
    const p = people.approver = await person('approver', 'root', 'approver');
    const mail = await mailTo('approver@root.example', `your turn: approve or reject the CTSA of ${CLIENT_A}`, uuid);
    await follow(p, mail);
    await login(p, {keyboard: true, here: true});
    await onCtPage(p, uuid);
    await expectNav(p, ['Agreements', 'Approvals']);
    await takeNextStep(p, `Approve or reject the CTSA of ${CLIENT_A}`, `.decision[data-peer="${CLIENT_A}"]`);
    if (!await p.page.evaluate((peer) => document.activeElement?.matches(`button.approve[data-peer="${peer}"]`), CLIENT_A))
      throw new Error('the approver\'s next step does not put the keyboard on the Approve button');
    await evidence.capture(p.page, p.label, 'ct-decide');
    await p.page.keyboard.press('Enter');
    await waitText(p, '#notice', `Approved the CTSA of ${CLIENT_A}`, 30000);
    await open(p, '#/approvals');
    await p.page.waitForSelector(`#queue .decision[data-peer="${CLIENT_B}"]`);
    // The queue says whom the CTSA names, folded: unfolded by keyboard.
    const named = `#queue .decision[data-peer="${CLIENT_B}"] details`;
    await tabTo(p, `${named} summary`);
    await p.page.keyboard.press('Enter');
    await p.page.waitForSelector(`${named}[open]`);
    const namedText = await text(p, named);
    if (!['Director of office B (signatory 1)', 'Custodian B', 'Analyst B'].every((n) => namedText.includes(n)))
      throw new Error(`the queue names, for ${CLIENT_B}: ${namedText}`);
    await evidence.capture(p.page, p.label, 'queue');
    await p.page.click(`button.approve[data-peer="${CLIENT_B}"]`);
    await waitText(p, '#notice', /agreement is instantiated/, 30000);
    await evidence.capture(p.page, p.label, 'approved');
    return `followed ${mail.link}`;
  });

  await steps.step('client-b\'s auditor reads the list and the CT, with no action offered', async () => {
    const p = people.auditorB = await person('auditorB', 'client-b', 'auditor');
    await login(p);
    await expectNav(p, ['Agreements', 'Node', 'Audit log']);
    await open(p, '#/ctas');
    await p.page.waitForSelector(`#cta-list a[href="#/ct/${uuid}"]`);
    await evidence.capture(p.page, p.label, 'ctas');
    await open(p, `#/ct/${uuid}`);
    await p.page.waitForSelector('#ctsc');
    const offered = await p.page.$$eval('main button, main form', (els) => els.map((e) => e.id || e.textContent.trim())
      .filter((t) => t !== 'refresh'));
    if (offered.length || await p.page.$('#actions') || await p.page.$('a[href="#/draft"]'))
      throw new Error(`an auditor is offered ${offered.join(', ')}`);
    await evidence.capture(p.page, p.label, 'ct-read-only');
  });

  await steps.step('client-a\'s General Manager: Our CTs with status and phase, the CT\'s page with only cancelling offered', async () => {
    const p = people.gmA = await person('gmA', 'client-a', 'general_manager');
    await login(p);
    await p.page.waitForSelector('main:not([aria-busy]) #ours');
    await expectNav(p, ['Our CTs']);
    if (!p.page.url().endsWith('#/ours'))
      throw new Error(`the General Manager starts at ${p.page.url()}, not #/ours`);
    const row = await p.page.$$eval('#ours tbody tr', (rows, id) => rows.map((r) => ({
      link: r.querySelector(`a[href="#/ct/${id}"]`)?.textContent,
      cells: [...r.cells].map((c) => c.textContent.trim()),
      phase: r.querySelector('.ct-phase')?.dataset.phase,
    })).find((r) => r.link !== undefined), uuid);
    if (!row || row.link !== demoTitle)
      throw new Error(`Our CTs has no row linking "${demoTitle}" to its page: ${JSON.stringify(row)}`);
    if (row.cells[1] !== 'instantiated' || !row.phase || !row.cells[4].includes('organiser'))
      throw new Error(`the demo CT's row says ${row.cells.join(' | ')}`);
    await waitText(p, '#cancel-note', 'cancelled on its page');
    await evidence.capture(p.page, p.label, 'our-cts');
    await tabTo(p, `#ours a[href="#/ct/${uuid}"]`);
    await p.page.keyboard.press('Enter');
    await p.page.waitForSelector('main:not([aria-busy]) #ctsc');
    // The General Manager manages the organisation's CTs: cancelling is offered (they cancel the
    // markup twin's CT below), nothing else.
    await p.page.waitForSelector('#cancel-form');
    const offered = await p.page.$$eval('main button, main form', (els) => els.map((e) => e.id || e.textContent.trim())
      .filter((t) => t !== 'refresh'));
    if (offered.join(',') !== 'cancel-form,cancel-submit')
      throw new Error(`a General Manager is offered ${offered.join(', ')}`);
    await evidence.capture(p.page, p.label, 'ct');
    return `${row.cells.slice(0, 6).join(' | ')}`;
  });

  await steps.step('twin: a change with the session cookie but no X-CSRF-Token is refused (403), nothing changes', async () => {
    const p = people.orgA;
    await open(p, `#/ct/${uuid}`);
    const answer = await p.page.evaluate(async (id) => {
      const res = await fetch(`/v1/ctas/${id}/cancel`, {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({reason: 'forged'})});
      return {status: res.status, body: await res.text()};
    }, uuid);
    if (answer.status !== 403 || JSON.parse(answer.body).error?.code !== 'csrf_required')
      throw new Error(`answered ${answer.status} ${answer.body}`);
    await open(p, `#/ct/${uuid}`);
    if (['cancelled', 'agreement'].includes(await phaseOf(p)))
      throw new Error(`after the forged request the CT is in phase ${await phaseOf(p)}`);
    await evidence.capture(p.page, p.label, 'ct-after-forgery');
    return `${answer.status} csrf_required; the CT is in phase ${await phaseOf(p)}`;
  });

  await steps.step('twin: a title with markup, drafted with the form (by keyboard), is shown as text, never run; client-a\'s General Manager then cancels that CT (by keyboard)', async () => {
    const p = people.orgA;
    // What the node's check answers: the title must come back from the node's parser as typed.
    const answers = [];
    const listen = (res) => {
      if (new URL(res.url()).pathname === '/v1/tasks/check' && res.ok())
        answers.push(res.json().catch(() => null));
    };
    p.page.on('response', listen);
    let formNote = '';
    try {
      await open(p, '#/draft');
      if (!await p.page.$eval('#draft-by-form', (e) => e.checked) || await p.page.$('#nodes-problem'))
        throw new Error(`the draft page does not start with the form and the node's list: ${await text(p, '#draft')}`);
      // client-a knows the Computing Parties of its first CT (GET /v1/nodes), in order.
      const cps = (await optionsOf(p, '#cp-1')).filter((o) => o.value !== 'another').map((o) => o.value);
      if (cps.join(' ') !== 'cp1.joconde.test cp2.joconde.test cp3.joconde.test')
        throw new Error(`the form offers as Computing Parties ${cps.join(', ')}`);
      const cp3Text = (await optionsOf(p, '#cp-3')).find((o) => o.value === CP3)?.text ?? '';
      const peers = (await optionsOf(p, '#input-1-peer')).map((o) => o.value);
      if (peers[0] !== CLIENT_A)
        throw new Error(`the form offers as peers ${peers.join(', ')}, not client-a (this node) first`);
      await typeIn(p, '#task-title', XSS_TITLE);
      for (const i of [1, 2, 3])
        await chooseOption(p, `#cp-${i}`, `cp${i}.joconde.test`);
      // Input 1 from this node, chosen from the list; input 2 by a peer typed by its FQDN ("Another node").
      await chooseOption(p, '#input-1-peer', CLIENT_A);
      await typeIn(p, '#input-1-table', PERSONS_TABLE);
      await typeIn(p, '#input-1-rows', '1000000');
      await tabTo(p, '#add-input');
      await press(p, '#add-input');
      await expectFocus(p, '#input-2-peer', 'Add an input');
      await chooseOption(p, '#input-2-peer', 'another');
      await typeIn(p, '#input-2-peer-fqdn', CLIENT_B);
      await typeIn(p, '#input-2-table', INCOME_TABLE);
      await typeIn(p, '#input-2-rows', '1000000');
      await typeIn(p, '#output-1-table', OUTPUT_TABLE);
      for (const fqdn of [CLIENT_A, CLIENT_B]) {
        await tabTo(p, `#output-1 input[type=checkbox][value="${fqdn}"]`);
        await p.page.keyboard.press('Space');
      }
      // A compile error in the algorithm is shown, and where it is in the form; then corrected.
      await typeIn(p, '#algorithm', demoTask.main_algorithm.source.replace('SELECT', 'SELEC'));
      await waitText(p, '#check [role=alert]', /compile_error/);
      await waitText(p, '#check-place', 'the algorithm, line');
      const error = `${await text(p, '#check [role=alert]')} ${await text(p, '#check-place')}`;
      await evidence.capture(p.page, p.label, 'draft-form-error');
      // "Go to the field" puts the keyboard in the algorithm, at the line and column the node named.
      await tabTo(p, '#check-go');
      await press(p, '#check-go');
      await expectFocus(p, '#algorithm', 'Go to the field');
      const [line, column] = /line (\d+), column (\d+)/.exec(await text(p, '#check-place')).slice(1).map(Number);
      const caret = await p.page.$eval('#algorithm', (e) => e.value.slice(0, e.selectionStart).split('\n'));
      if (caret.length !== line || caret.at(-1).length !== column - 1 || !/^SELEC /.test(demoTask.main_algorithm
        .source.replace('SELECT', 'SELEC').split('\n')[line - 1].slice(column - 1)))
        throw new Error(`"Go to the field" left the caret at line ${caret.length}, column ${caret.at(-1).length + 1}`);
      await typeIn(p, '#algorithm', demoTask.main_algorithm.source);
      await p.page.waitForFunction(() => !document.querySelector('#create').disabled && document.querySelector('#check-ok'),
        {timeout: 30000});
      await waitText(p, '#check', 'rss3');
      await waitText(p, '#check', 'known to the Computing Parties');
      // The task file the form wrote, shown by keyboard: deadlines as UTC date-times, the title escaped.
      await tabTo(p, '#form-toml-box summary');
      await p.page.keyboard.press('Enter');
      const toml = await p.page.$eval('#form-toml', (e) => e.value);
      if (!/^approval = "\d{4}-\d\d-\d\dT\d\d:\d\d:00Z"$/m.test(toml) || !toml.includes('title = "Income by region <script>'
        + 'window.__pwned=1</script><img src=x onerror=\\"window.__pwned=2\\">"'))
        throw new Error(`the form wrote ${toml.slice(0, 600)}`);
      const last = await answers.at(-1);
      const ctsc = last?.ctsc ?? {};
      const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
      const slots = (list) => JSON.stringify(sorted((list ?? []).map((x) => [x.key, x.peer, x.peers, x.schema, x.max_rows])));
      if (ctsc.title !== XSS_TITLE || await text(p, '#check-title') !== XSS_TITLE)
        throw new Error(`the node read the title as ${JSON.stringify(ctsc.title)}`);
      if (slots(ctsc.inputs) !== slots(demoTask.inputs) || slots(ctsc.outputs) !== slots(demoTask.outputs)
        || JSON.stringify(ctsc.computing_parties) !== JSON.stringify(demoTask.computing_parties))
        throw new Error(`the form's task differs from the demo's: ${slots(ctsc.inputs)} ${slots(ctsc.outputs)}`);
      await evidence.capture(p.page, p.label, 'draft-form');
      await tabTo(p, '#create');
      await press(p, '#create');
      await p.page.waitForFunction((old) => location.hash.startsWith('#/ct/') && !location.hash.endsWith(old), {timeout: 60000}, uuid);
      formNote = `cp3 offered as "${cp3Text}"; the broken algorithm: ${error.slice(0, 200)}`;
    } finally {
      p.page.off('response', listen);
    }
    await p.page.waitForSelector('main:not([aria-busy]) #ctsc-title');
    xssUuid = p.page.url().split('#/ct/')[1];
    const shown = async () => ({
      pwned: await p.page.evaluate(() => window.__pwned),
      h1: await text(p, 'main h1'),
      imgs: await p.page.$$eval('main img', (e) => e.length),
    });
    let seen = await shown();
    if (seen.pwned !== undefined || seen.h1 !== XSS_TITLE || seen.imgs !== 0)
      throw new Error(`on the CT page: ${JSON.stringify(seen)}`);
    await evidence.capture(p.page, p.label, 'xss-ct');
    await open(p, '#/ctas');
    await p.page.waitForSelector('#cta-list');
    const links = await p.page.$$eval('#cta-list a', (as) => as.map((a) => a.textContent));
    seen = await shown();
    if (!links.includes(XSS_TITLE) || seen.pwned !== undefined || seen.imgs !== 0)
      throw new Error(`on the list: ${JSON.stringify({links, ...seen})}`);
    await evidence.capture(p.page, p.label, 'xss-list');
    // client-a's General Manager cancels it, by keyboard.
    const gm = people.gmA;
    await open(gm, `#/ct/${xssUuid}`);
    await tabTo(gm, '#cancel-reason');
    await gm.page.keyboard.type('a test of how titles are shown; <b>not bold</b>');
    await gm.page.keyboard.press('Tab');
    await press(gm, '#cancel-submit');
    await waitText(gm, '#notice', 'Cancelled', 60000);
    await waitText(gm, '#phase', 'cancelled');
    await evidence.capture(gm.page, gm.label, 'xss-cancelled');
    if (await gm.page.evaluate(() => window.__pwned) !== undefined)
      throw new Error('window.__pwned was set');
    // The e-mail says so, the title in its Subject verbatim: plain text, which no mail program runs.
    const mail = await mailTo('task_organiser@client-a.example', 'the CT cancelled', xssUuid);
    const subject = `[joconde] ${XSS_TITLE} (CT ${xssUuid.slice(0, 8)}): the CT cancelled`;
    if (mail.subject !== subject)
      throw new Error(`the cancellation's Subject is ${JSON.stringify(mail.subject)}, not ${JSON.stringify(subject)}`);
    const type = mail.headers['content-type'] ?? '';
    if (!/^text\/plain;\s*charset=utf-8$/i.test(type) || /text\/html|multipart/i.test(mail.data.split('\n\n')[0]))
      throw new Error(`the cancellation is sent as ${type}, not plain text only`);
    if (!mail.body.includes(`Computation Task: ${XSS_TITLE}\n`))
      throw new Error('the cancellation\'s body does not name the title verbatim');
    // Its link shows the cancelled CT, the title as text.
    await follow(p, mail);
    await onCtPage(p, xssUuid);
    seen = await shown();
    if (seen.pwned !== undefined || seen.h1 !== XSS_TITLE || seen.imgs !== 0 || await phaseOf(p) !== 'cancelled')
      throw new Error(`the cancellation's link shows ${JSON.stringify(seen)}, phase ${await phaseOf(p)}`);
    return `CT ${xssUuid}; e-mail "${mail.subject}"; ${formNote}`;
  });

  await steps.step('every CP\'s CT VM reaches the input phase: client-a\'s custodian is told by e-mail and follows its link', async () => {
    const p = people.custA;
    // The e-mail goes out once every CP's CT VM is in the input phase (the VMs start first).
    const mail = await mailTo('data_custodian@client-a.example', 'your turn: upload input `persons`', uuid, 180000);
    await follow(p, mail);
    await onCtPage(p, uuid);
    if (await phaseOf(p) !== 'input')
      throw new Error(`the e-mail's CT page shows phase ${await phaseOf(p)}, not input`);
    await takeNextStep(p, 'Upload persons', 'section[data-slot="persons"]');
    await evidence.capture(p.page, 'custA', 'input-phase');
    return `followed ${mail.link}`;
  });

  await steps.step('client-a\'s custodian uploads persons.csv through the portal by keyboard', async () => {
    const p = people.custA;
    const s = 'section[data-slot="persons"]';
    // "Upload persons" left the keyboard on the file input.
    await expectFocus(p, `${s} .upload-file`, '"Upload persons"');
    await pickFile(p, `${s} .upload-file`, path.join(work, 'persons.csv'));
    await p.page.keyboard.press('Tab');
    await press(p, `${s} .upload`);
    await waitText(p, `${s} .upload-result`, 'Uploaded 1000 row(s) into persons', 180000);
    await expectFocus(p, `${s} .outcome [role=status]`, 'the upload');
    const bar = await p.page.$eval(`${s} progress`, (e) => e.value);
    if (bar !== 100)
      throw new Error(`the progress bar ends at ${bar}`);
    await evidence.capture(p.page, p.label, 'uploaded');
    return await text(p, `${s} .upload-result`);
  });

  await steps.step('client-b\'s custodian, in a fresh browser, follows the e-mail, logs in, restores the key from its backup and uploads income.csv, by keyboard', async () => {
    const old = people.custB;
    const p = people.custB2 = await person('custB2', 'client-b', 'data_custodian');
    const mail = await mailTo('data_custodian@client-b.example', 'your turn: upload input `income`', uuid);
    await follow(p, mail);
    await login(p, {here: true});
    await onCtPage(p, uuid);
    await takeNextStep(p, 'Upload income', 'section[data-slot="income"]');
    const s = 'section[data-slot="income"]';
    await p.page.waitForSelector(`${s} .restore-form`);
    // By keyboard: the backup file, its passphrase, the button; then the CSV file and Upload.
    await expectFocus(p, `${s} .restore-file`, '"Upload income"');
    await pickFile(p, `${s} .restore-file`, old.backup);
    await p.page.keyboard.press('Tab');
    await expectFocus(p, `${s} .restore-pass`, 'Tab from the backup file');
    await p.page.keyboard.type(PASSPHRASE);
    await p.page.keyboard.press('Tab');
    await press(p, `${s} .restore-key`);
    await waitText(p, `${s} .key-state`, 'is in this browser', 60000);
    await expectFocus(p, `${s} .restored[role=status]`, 'restoring the key');
    await evidence.capture(p.page, p.label, 'restored');
    await pickFile(p, `${s} .upload-file`, path.join(work, 'income.csv'));
    await p.page.keyboard.press('Tab');
    await press(p, `${s} .upload`);
    await waitText(p, `${s} .upload-result`, /Uploaded \d+ row\(s\) into income/, 180000);
    await evidence.capture(p.page, p.label, 'uploaded');
    return await text(p, `${s} .upload-result`);
  });

  await steps.step('the CPs compute; the CT reaches the output phase: client-a\'s analyst is told by e-mail and follows its link', async () => {
    const p = people.anaA;
    const mail = await mailTo('data_analyst@client-a.example', 'your turn: download output `income_by_region` (once)', uuid,
      300000);
    await follow(p, mail);
    await onCtPage(p, uuid);
    if (await phaseOf(p) !== 'output')
      throw new Error(`the e-mail's CT page shows phase ${await phaseOf(p)}, not output`);
    await takeNextStep(p, 'Download income_by_region', 'section[data-slot="income_by_region"]');
    return `followed ${mail.link}`;
  });

  let portalCsv;
  await steps.step('client-a\'s analyst downloads the result once through the portal, by keyboard', async () => {
    const p = people.anaA;
    const s = 'section[data-slot="income_by_region"]';
    await evidence.capture(p.page, p.label, 'output-phase');
    // "Download income_by_region" left the keyboard on the button.
    await press(p, `${s} .download-result`);
    await waitText(p, '#result-summary', /\d+ row\(s\) suppressed/, 180000);
    await p.page.waitForSelector('#result-table tbody tr');
    await expectFocus(p, '#result-summary', 'the download');
    await evidence.capture(p.page, p.label, 'downloaded');
    await tabTo(p, `${s} .result-box a.download`);
    await press(p, `${s} .result-box a.download`);
    portalCsv = await downloaded(p, `income_by_region-${uuid}.csv`);
    await fs.copyFile(portalCsv, path.join(outDir, 'income_by_region-portal.csv'));
    const summary = await text(p, '#result-summary');
    await open(p, `#/ct/${uuid}`);
    await tabTo(p, `${s} .download-result`);
    await press(p, `${s} .download-result`);
    await waitText(p, `${s} [role=alert]`, 'already_exists', 120000);
    await evidence.capture(p.page, p.label, 'second-download-refused');
    return summary;
  });

  await steps.step('client-b\'s analyst downloads with the CLI; both copies are the same bytes and the right statistics', async () => {
    const cliCsv = path.join(work, 'output-b.csv');
    await cli('--as', 'client-b:data_analyst', 'download', uuid, 'income_by_region', '--key', path.join(work, 'analyst-b.key'),
      '--passphrase-file', path.join(work, 'passphrase'), '-o', cliCsv);
    const a = readFileSync(portalCsv);
    const b = readFileSync(cliCsv);
    if (!a.equals(b))
      throw new Error(`the portal's CSV (${a.length} bytes) differs from the CLI's (${b.length} bytes)`);
    const data = path.join(sourceDir, 'ops', 'demo-data');
    await sh(data, ['expected', '--persons', path.join(work, 'persons.csv'), '--income', path.join(work, 'income.csv'),
      '--out', path.join(work, 'expected.csv')]);
    await sh(data, ['compare', '--expected', path.join(work, 'expected.csv'), '--actual', portalCsv]);
    return `${a.length} bytes, as expected`;
  });

  await steps.step('client-a\'s IT administrator reads the Node page: identity, links, trust store, users, TEE', async () => {
    const p = people.itA;
    await p.context.overridePermissions(p.base, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    await open(p, '#/node');
    const own = canonical(cluster.nodes['client-a'].fingerprint);
    const shown = await p.page.$eval('#own-fingerprint code.hex', (e) => e.dataset.value);
    if (shown !== own)
      throw new Error(`the Node page shows the fingerprint ${shown}, cluster.json says ${own}`);
    const groups = await p.page.$$eval('#own-fingerprint .hex-group', (gs) => gs.map((g) => g.textContent));
    if (groups.length !== 8 || groups.join(':') !== own)
      throw new Error(`the fingerprint is not shown in 8 groups of 4 bytes: ${groups.join(' ')}`);
    // Copied exactly, for joconde-node trust confirm at the other end.
    await tabTo(p, '#own-fingerprint button.copy');
    await press(p, '#own-fingerprint button.copy');
    await waitText(p, '#own-fingerprint .copy-said', 'Copied');
    const copied = await p.page.evaluate(() => navigator.clipboard.readText());
    if (copied !== own)
      throw new Error(`the copy button copied ${copied}`);
    // The certificate: its subject, its contact, its expiry with the days left.
    const subject = await text(p, '#cert-subject');
    if (!subject.includes('CN=') || !subject.includes('client-a'))
      throw new Error(`the Node page shows the certificate's subject as ${subject}`);
    const contact = await text(p, '#cert-contact');
    if (contact !== 'ops@client-a.example')
      throw new Error(`the Node page shows the certificate's contact as ${contact}, not ops@client-a.example`);
    const days = Number(await p.page.$eval('#not-after', (e) => e.dataset.days));
    const expires = await text(p, '#not-after');
    if (!(days > 0) || !expires.includes(`${days} day`) || !await p.page.$('#not-after time'))
      throw new Error(`the Node page shows the certificate's expiry as ${expires} (${days} days)`);
    await waitText(p, '#health-status', 'ok');
    const links = await p.page.$$eval('#links-table tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent.trim())));
    if (links.length !== 1 || links[0][0] !== 'parent' || links[0][2] !== 'up')
      throw new Error(`client-a's links: ${JSON.stringify(links)}`);
    // Every other node's fingerprint, confirmed out of band at client-a, with its time, and named
    // after the CT members it belongs to (the root is no member: /v1/trust names no node).
    const trusted = await p.page.$$eval('#trust-table tbody tr', (rows) => rows.map((r) => ({
      name: r.cells[0].textContent.trim(), fp: r.cells[1].querySelector('code.hex')?.dataset.value,
      at: r.cells[2].querySelector('time')?.getAttribute('datetime')})));
    for (const n of Object.values(cluster.nodes).filter((n) => n.name !== 'client-a')) {
      const t = trusted.find((r) => r.fp === canonical(n.fingerprint));
      if (!t || !t.at || (n.name !== 'root' && t.name !== `${n.name}.joconde.test`))
        throw new Error(`the trust store does not show ${n.name}'s fingerprint named and confirmed: ${JSON.stringify(trusted)}`);
    }
    await p.page.waitForSelector('#unconfirmed-none');
    const users = await p.page.$$eval('#users-table tbody tr', (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent]));
    for (const role of Object.keys(cluster.nodes['client-a'].users))
      if (!users.some(([name, roles]) => name === role && roles.split(', ').includes(role)))
        throw new Error(`the users list has no ${role} with that role: ${JSON.stringify(users)}`);
    await waitText(p, '#tee-simulated', 'SIMULATED');
    const measurement = await p.page.$eval('#tee code.hex', (e) => e.dataset.value);
    if (!/^[0-9A-F]{96}$/.test(measurement))
      throw new Error(`the TEE's measurement is shown as ${measurement}`);
    if (await p.page.$('main form'))
      throw new Error('the Node page offers a form');
    await evidence.capture(p.page, p.label, 'node');
    return `fingerprint ${own.slice(0, 11)}…, ${subject}, ${contact}, ${expires}, ${trusted.length} confirmed, ${users.length} users, links ${links.map((l) => l.filter(Boolean).join(' ')).join('; ')}`;
  });

  await steps.step('client-a\'s auditor: the Node page read-only, the CT\'s events unfolded', async () => {
    const p = people.auditorA = await person('auditorA', 'client-a', 'auditor');
    await login(p);
    await expectNav(p, ['Agreements', 'Node', 'Audit log']);
    await tabTo(p, '#nav a[href="#/node"]');
    await p.page.keyboard.press('Enter');
    await p.page.waitForSelector('main:not([aria-busy]) #identity');
    const shown = await p.page.$eval('#own-fingerprint code.hex', (e) => e.dataset.value);
    if (shown !== canonical(cluster.nodes['client-a'].fingerprint))
      throw new Error(`the auditor's Node page shows the fingerprint ${shown}`);
    await waitText(p, '#users-table', 'task_organiser');
    await p.page.waitForSelector('#trust-table tbody tr');
    if (await p.page.$('main form'))
      throw new Error('the auditor is offered a form on the Node page');
    await evidence.capture(p.page, p.label, 'node');
    await open(p, `#/ct/${uuid}`);
    await p.page.waitForSelector('#run details[open] #events');
    const events = await p.page.$$eval('#events tbody tr', (rows) => rows.filter((r) => r.getClientRects().length > 0).length);
    if (events === 0)
      throw new Error('the CT page shows the auditor no event of the CT VMs');
    if (await p.page.$('#actions') || await p.page.$('main form'))
      throw new Error('the auditor is offered an action on the CT page');
    await evidence.capture(p.page, p.label, 'ct-events');
    return `${events} event(s) shown`;
  });

  await steps.step('client-b\'s auditor: a portal password set on the host; by keyboard a wrong one is refused (401), the right one logs in; the Audit log checked, paged and exported', async () => {
    const b = cluster.nodes['client-b'];
    const name = b.users.auditor.name ?? 'auditor';
    // The operator sets the password while the node runs, from a file only they can read.
    const secrets = await tempDir('joconde-portal-password-');
    const passwordFile = path.join(secrets, 'password');
    const password = `audit-${randomBytes(12).toString('base64url')}`;
    await fs.writeFile(passwordFile, `${password}\n`, {mode: 0o600});
    await fs.chmod(passwordFile, 0o600);
    await sh(path.join(buildDir, 'bin', 'joconde-node'), ['user', 'password', '--dir', b.data_dir, '--name', name,
      '--password-file', passwordFile]);
    const p = people.auditorB2 = await person('auditorB2', 'client-b', 'auditor');
    await open(p, '#/login');
    // A user name and password is the first way, chosen already; the fields say what they hold.
    const fields = await p.page.evaluate(() => ({
      chosen: document.querySelector('#login input[name=method]:checked')?.value,
      user: document.querySelector('#login input[name=user]')?.getAttribute('autocomplete'),
      password: document.querySelector('#login input[name=password]')?.getAttribute('autocomplete'),
      token: !!document.querySelector('#login input[name=token]')?.checkVisibility(),
      ways: [...document.querySelectorAll('#login .choice label')].map((l) => l.textContent.trim()),
    }));
    if (fields.chosen !== 'password' || fields.user !== 'username' || fields.password !== 'current-password'
      || fields.token || fields.ways.join('|') !== 'User name and password|API token')
      throw new Error(`the log-in page: ${JSON.stringify(fields)}`);
    await evidence.capture(p.page, p.label, 'login-password');
    // A wrong password first: the node's 401, and the keyboard back in the emptied password field.
    await tabTo(p, '#login input[name=user]');
    await p.page.keyboard.type(name);
    await p.page.keyboard.press('Tab');
    if (!await p.page.evaluate(() => document.activeElement?.matches('#login input[name=password]')))
      throw new Error('Tab from the user name does not reach the password');
    await p.page.keyboard.type('not the password of anyone');
    await p.page.keyboard.press('Enter');
    await waitText(p, '#login-refused[data-status="401"]', 'unknown user or wrong password');
    const refused = await text(p, '#login-refused p');
    const again = await p.page.evaluate(() => {
      const e = document.activeElement;
      return e?.matches('#login input[name=password]') && e.value === '';
    });
    if (!again)
      throw new Error('after the refusal the keyboard is not in the emptied password field');
    await evidence.capture(p.page, p.label, 'login-refused');
    await p.page.keyboard.type(password);
    await p.page.keyboard.press('Enter');
    await waitText(p, '#whoami', 'auditor');
    await expectNav(p, ['Agreements', 'Node', 'Audit log']);
    // The Audit log, by keyboard: its first page starts at record 1.
    await tabTo(p, '#nav a[href="#/audit"]');
    await p.page.keyboard.press('Enter');
    await p.page.waitForSelector('main:not([aria-busy]) #audit-table tbody tr');
    const seqs = () => p.page.$$eval('#audit-table tbody tr', (rows) => rows.map((r) => Number(r.dataset.seq)));
    const first = await seqs();
    if (first[0] !== 1 || first.some((n, i) => n !== i + 1))
      throw new Error(`the first page of records is ${first.join(', ')}`);
    const line1 = await p.page.$eval('#audit-table tbody tr code.line', (e) => e.textContent);
    if (!line1.includes('seq="1"'))
      throw new Error(`record 1's line is ${line1}`);
    await evidence.capture(p.page, p.label, 'audit');
    // The check: intact, against the root CA, and where the parent's head is checked.
    await tabTo(p, '#audit-verify');
    await p.page.keyboard.press('Enter');
    await waitText(p, '#audit-verdict', /^Intact: each of the \d+ records/, 60000);
    const verdict = await text(p, '#audit-verdict');
    const checked = await text(p, '#audit-verify-result');
    if (!/Checkpoints checked against the root CA\s*yes/.test(checked) || !checked.includes('audit verify --dir DATA_DIR --head'))
      throw new Error(`the check says: ${checked.slice(0, 600)}`);
    await evidence.capture(p.page, p.label, 'audit-verified');
    // 20 records a page, then the next page, by keyboard: its first record follows the first page's last.
    await p.page.select('#audit-limit', '20');
    await tabTo(p, '#audit-show');
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr').length === 20
      && Number(document.querySelector('#audit-table tbody tr')?.dataset.seq) === 1, {timeout: 30000});
    if (await p.page.$eval('#audit-next', (e) => e.disabled))
      throw new Error('no next page: client-b\'s log has only 20 records');
    await tabTo(p, '#audit-next');
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => Number(document.querySelector('#audit-table tbody tr')?.dataset.seq) === 21,
      {timeout: 30000});
    const second = await seqs();
    const event2 = await p.page.$eval('#audit-table tbody tr code.event', (e) => e.textContent);
    if (!/^[a-z][a-z0-9_.-]+$/.test(event2))
      throw new Error(`record 21's event is shown as ${event2}`);
    await waitText(p, '#audit-range', `Showing records ${second[0]} to ${second[second.length - 1]} of`);
    // From record 7, typed.
    await p.page.$eval('#audit-from', (e) => { e.value = ''; });
    await tabTo(p, '#audit-from');
    await p.page.keyboard.type('7');
    await p.page.keyboard.press('Enter');
    await p.page.waitForFunction(() => Number(document.querySelector('#audit-table tbody tr')?.dataset.seq) === 7,
      {timeout: 30000});
    // Records 1 to 5 exported, as the file the browser saves.
    for (const [sel, value] of [['#export-from', '1'], ['#export-to', '5']]) {
      await p.page.$eval(sel, (e) => { e.value = ''; });
      await tabTo(p, sel);
      await p.page.keyboard.type(value);
    }
    await p.page.keyboard.press('Enter');
    await waitText(p, '#export-result', 'Exported 5 records as audit-client-b-1-5.log');
    const file = await downloaded(p, 'audit-client-b-1-5.log');
    await fs.copyFile(file, path.join(outDir, 'audit-client-b-1-5.log'));
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    if (lines.length !== 5 || lines.some((l, i) => !l.includes(`seq="${i + 1}"`)))
      throw new Error(`the exported file has ${lines.length} line(s): ${lines.map((l) => l.slice(0, 120)).join(' | ')}`);
    await evidence.capture(p.page, p.label, 'audit-exported');
    return `"${refused}"; ${verdict}; pages from ${first[0]} and ${second[0]} (${event2}); exported ${lines.length} lines`;
  });

  await steps.step('twin: after log-out the old session cookie is refused (401) in a fresh browser', async () => {
    const p = people.orgB;
    await open(p, '#/ctas');
    const name = '__Host-joconde-client-b';
    const cookie = (await p.page.cookies()).find((c) => c.name === name);
    if (!cookie)
      throw new Error(`no cookie ${name}: ${(await p.page.cookies()).map((c) => c.name)}`);
    if (!cookie.httpOnly || !cookie.secure || cookie.sameSite !== 'Strict')
      throw new Error(`the session cookie is not HttpOnly, Secure, SameSite=Strict: ${JSON.stringify(cookie)}`);
    await tabTo(p, '#logout');
    await press(p, '#logout');
    await p.page.waitForSelector('#login');
    await evidence.capture(p.page, p.label, 'logged-out');
    const q = people.replay = await person('replay', 'client-b', 'task_organiser');
    await q.page.setCookie({name, value: cookie.value, url: q.base, path: '/', secure: true, httpOnly: true, sameSite: 'Strict'});
    if (!(await q.page.cookies(q.base)).some((c) => c.name === name && c.value === cookie.value))
      throw new Error('the old cookie could not be set in the fresh browser');
    await open(q, '#/ctas');
    await q.page.waitForSelector('#login');
    const status = await q.page.evaluate(async () => [(await fetch('/v1/whoami')).status, (await fetch('/v1/session')).status]);
    if (status[0] !== 401 || status[1] !== 401)
      throw new Error(`with the old cookie, whoami and session answer ${status}`);
    await evidence.capture(q.page, q.label, 'replayed-cookie');
    await open(p, '#/ctas');
    await p.page.waitForSelector('#login');
    return `whoami ${status[0]}, session ${status[1]}`;
  });

  await steps.step('twin: a page of another origin cannot frame the portal', async () => {
    const p = people.sigA;
    const frameUrl = `${p.base}/portal/index.html`;
    await p.page.goto(`data:text/html,${encodeURIComponent(`<!doctype html><html lang="en"><title>framing</title><h1>A page of another origin</h1><iframe title="portal" src="${frameUrl}" width="800" height="400"></iframe></html>`)}`);
    // The frame settles on the portal or, refused, on Chromium's error page.
    const child = await until('the frame to load', async () => p.page.frames()
      .find((f) => f !== p.page.mainFrame() && f.url() !== '' && f.url() !== 'about:blank'), {timeoutMs: 15000, everyMs: 200});
    await sleep(500);
    const portalInside = await child.evaluate(() => !!document.querySelector('#main')).catch(() => false);
    if (portalInside || !child.url().startsWith('chrome-error:'))
      throw new Error(`the frame shows ${child.url()}${portalInside ? ', the portal' : ''}`);
    await p.page.screenshot({path: path.join(outDir, `${String(++evidence.count).padStart(2, '0')}-sigA-framed.png`)});
    return `the frame shows ${child.url()}`;
  });

  await steps.step('the CT finishes: client-a\'s General Manager is told by e-mail and follows its link; the analyst\'s key leaves the browser', async () => {
    const p = people.gmA;
    const mail = await mailTo('general_manager@client-a.example', 'the CT finished', uuid, 180000);
    await follow(p, mail);
    await onCtPage(p, uuid);
    await waitText(p, '#phase', 'finished');
    await evidence.capture(p.page, p.label, 'ct-finished');
    // The analyst's key opens nothing now: the CT's page takes it out of the browser.
    const analyst = people.anaA;
    const keysOf = () => analyst.page.evaluate((id) => new Promise((resolve, reject) => {
      const req = indexedDB.open('joconde-portal', 1);
      req.onsuccess = () => {
        const all = req.result.transaction('paks').objectStore('paks').getAllKeys();
        all.onsuccess = () => resolve(all.result.filter((k) => String(k).includes(`|${id}|`)).length);
        all.onerror = () => reject(all.error);
      };
      req.onerror = () => reject(req.error);
    }), uuid);
    const before = await keysOf();
    if (before !== 1)
      throw new Error(`the analyst's browser keeps ${before} key(s) of the CT before it visits the finished CT, not 1`);
    await open(analyst, `#/ct/${uuid}`);
    await waitText(analyst, '#keys-forgotten', 'removed');
    const after = await keysOf();
    if (after !== 0)
      throw new Error(`the analyst's browser still keeps ${after} key(s) of the finished CT`);
    await evidence.capture(analyst.page, analyst.label, 'keys-forgotten');
    return `to ${mail.rcpt.join(', ')}; the analyst's browser kept ${before} key of the CT, then none`;
  });

  await steps.step('every e-mail came over TLS, authenticated, to people of the cluster (one person per step), with a link to their own portal and no value of the data', async () => {
    const all = sink.messages();
    const secrets = new Set();
    const numbers = new Set();
    for (const file of ['persons.csv', 'income.csv']) {
      const [header, ...rows] = readFileSync(path.join(work, file), 'utf8').trim().split('\n').map((l) => l.split(','));
      for (const r of rows) {
        secrets.add(r[header.indexOf('id')]);
        if (header.includes('income'))
          numbers.add(r[header.indexOf('income')]);
      }
    }
    for (const line of readFileSync(portalCsv, 'utf8').trim().split('\n').slice(1))
      for (const cell of line.split(','))
        if (/^-?\d+(\.\d+)?$/.test(cell) && cell.replace(/\D/g, '').length >= 2) {
          numbers.add(cell);
          numbers.add(cell.split('.')[0]);
        }
    const firstIds = [...secrets].slice(0, 3);
    const titles = [demoTitle, XSS_TITLE];
    const portals = Object.fromEntries(Object.values(cluster.nodes).map((n) => [n.name, `${cluster.url(n.name)}/portal/#/ct/`]));
    const turns = {'submit the CTSA': 'task_organiser', 'sign the CTSA': 'signatory', 'approve or reject': 'approver',
      'upload input': 'data_custodian', 'download output': 'data_analyst'};
    const problems = [];
    const left = new Set();
    const told = new Map();
    for (const m of all) {
      const bad = (why) => problems.push(`${m.file} (${m.rcpt.join(', ')}: ${m.subject}): ${why}`);
      if (!m.tls || !m.authenticated)
        bad(`tls ${m.tls}, authenticated ${m.authenticated}`);
      if (!m.from)
        bad('no envelope sender');
      // Who: ROLE@NODE.example, or a peer's contact ops@NODE.example (the root tells it).
      const title = titles.find((t) => m.subject.startsWith(`[joconde] ${t} (CT `));
      const head = title ? /^ \(CT ([0-9a-f]{8})\): (.*)$/.exec(m.subject.slice(`[joconde] ${title}`.length)) : null;
      if (!head) {
        bad('the Subject is not "[joconde] TITLE (CT xxxxxxxx): …"');
        continue;
      }
      const said = head[2];
      const ending = /^the CT (cancelled|finished)( \(([a-z0-9.-]+)\))?$/.exec(said);
      // A contact's e-mail names its organisation: "the CT finished" to ops@NODE.example, or
      // "NODE.joconde.test is to STEP".
      const contact = m.rcpt.length === 1 && /^ops@/.test(m.rcpt[0])
        ? (/^([a-z0-9-]+)\.joconde\.test is to /.exec(said) ?? (ending ? [null, m.rcpt[0].slice(4, -'.example'.length)] : null))
        : null;
      if (!ending && m.rcpt.length !== 1)
        bad(`${m.rcpt.length} recipients`);
      const to = m.rcpt.map((r) => /^([a-z_]+)@([a-z0-9-]+)\.example$/.exec(r));
      if (to.some((t) => !t) || new Set(to.map((t) => t?.[2])).size !== 1)
        bad('a recipient not of the form ROLE@NODE.example, or of several organisations');
      if ((m.headers.to ?? '').split(/,\s*/).sort().join() !== [...m.rcpt].sort().join())
        bad(`the To: header says ${m.headers.to}`);
      const [, role, node] = to[0] ?? [];
      if (contact && !(role === 'ops' && node === contact[1]))
        bad(`a step of ${contact[1]} sent to ${m.rcpt}, not to its contact ops@${contact[1]}.example`);
      if (!contact && !ending) {
        const expected = Object.entries(turns).find(([k]) => said.includes(k))?.[1];
        if (!expected || role !== expected || !cluster.nodes[node]?.users?.[role])
          bad(`"${said}" sent to ${m.rcpt}, not to the ${expected ?? '?'} of a node`);
      }
      // The link: the CT's page at the portal of the recipient's node. A contact has no account at
      // the root: its e-mail has no link and sends its people to their own node's portal.
      if (contact) {
        if (m.link || !m.body.includes('at the portal of your own node'))
          bad(`a contact's e-mail links ${m.link || 'nothing'} and does not send to the own node's portal`);
      } else {
        const portal = portals[node];
        const id = m.link.slice((portal ?? '').length);
        if (!portal || !m.link.startsWith(portal) || !id.startsWith(head[1]) || !m.body.includes(`Identifier: ${id}\n`))
          bad(`the link ${m.link} is not the CT's page at ${portal}`);
      }
      // Nothing of the data: no person's id, no income, no number of the result.
      for (const secret of secrets)
        if (m.data.includes(secret))
          bad(`it carries the id ${secret}`);
      let rest = m.data.replace(/^(Date|Message-ID):.*$/gim, '');
      for (const t of titles)
        rest = rest.split(t).join(' ');
      rest = rest.replace(/https:\/\/\S+/g, ' ').replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, ' ')
        .replace(/\(CT [0-9a-f]{8}\)/g, ' ');
      for (const token of rest.split(/[^0-9A-Za-z.]+/).map((t) => t.replace(/^\.+|\.+$/g, '')))
        if (/^\d+(\.\d+)?$/.test(token)) {
          left.add(token);
          if (numbers.has(token))
            bad(`it carries the number ${token} of the data`);
        }
      const key = `${[...m.rcpt].sort()}|${m.subject}`;
      told.set(key, (told.get(key) ?? 0) + 1);
    }
    const twice = [...told].filter(([, n]) => n > 1).map(([k, n]) => `${k} (${n} times)`);
    if (twice.length)
      problems.push(`sent more than once: ${twice.join('; ')}`);
    for (const must of ['ops@client-a.example', 'ops@client-b.example'])
      if (!all.some((m) => m.rcpt.includes(must)))
        problems.push(`the root told no step to ${must}, the contact of the peer's certificate`);
    if (problems.length)
      throw new Error(problems.join('; '));
    return `${all.length} e-mail(s), none with any of ${secrets.size} ids (e.g. ${firstIds.join(', ')}) or ${numbers.size} `
      + `numbers of the data; numbers left in them: ${[...left].join(', ') || 'none'}`;
  });

  await steps.step('an idle session: two minutes before the node would end it the portal warns, and "Stay logged in" (by keyboard) keeps it', async () => {
    const p = people.idle = await person('idle', 'client-a', 'task_organiser');
    // The page's clock, moved on at will: the node's idle timeout is too long to wait for.
    await p.page.evaluateOnNewDocument(() => {
      const real = Date.now;
      Date.now = () => real() + (window.__clockAhead ?? 0);
    });
    await login(p, {keyboard: true});
    const idle = await p.page.evaluate(async () => (await (await fetch('/v1/session')).json()).idle_timeout_s);
    if (!(idle > 120))
      throw new Error(`the session's idle_timeout_s is ${idle}`);
    if (await p.page.$('#stay-logged-in'))
      throw new Error('the portal warns of the session\'s end right after the log-in');
    const live = await p.page.$eval('#session-timeout', (e) => e.getAttribute('aria-live'));
    await p.page.evaluate((ms) => { window.__clockAhead = ms; }, (idle - 100) * 1000);
    await p.page.waitForSelector('#session-timeout #stay-logged-in', {timeout: 15000});
    const warning = await text(p, '#session-timeout');
    await evidence.capture(p.page, p.label, 'idle-warning');
    // The warning does not take the focus; Shift+Tab from the page's heading reaches its button.
    await p.page.focus('main h1');
    for (let i = 0; i < 10 && !await focusIn(p, '#stay-logged-in'); i += 1)
    {
      await p.page.keyboard.down('Shift');
      await p.page.keyboard.press('Tab');
      await p.page.keyboard.up('Shift');
    }
    await press(p, '#stay-logged-in');
    await waitText(p, '#session-timeout', 'You stay logged in');
    await expectFocus(p, '#session-kept', '"Stay logged in"');
    if (await p.page.$('#stay-logged-in'))
      throw new Error('the warning stays after "Stay logged in"');
    await waitText(p, '#whoami', 'task_organiser');
    return `aria-live ${live}: "${warning.slice(0, 160)}"; then "${await text(p, '#session-kept')}"`;
  });

  await oidcSteps({steps, cluster, idp, launchPerson: person, people, evidence, open, tabTo, press, waitText, expectFocus});

  await steps.step('no page had a script error', async () => {
    const errors = Object.values(people).flatMap((p) => p.errors.map((e) => `${p.label}: ${e}`));
    if (errors.length)
      throw new Error(errors.join('; '));
    return `${evidence.audits.length} pages audited with axe-core, none with a serious or critical violation`;
  });
}

// -- main ----------------------------------------------------------------------------------------------

async function cleanUp(failed) {
  if (browser)
    await browser.close().catch(() => {});
  if (cluster) {
    if (failed)
      for (const n of Object.values(cluster.nodes))
        await fs.copyFile(n.log, path.join(outDir, `${n.name}-node.log`)).catch(() => {});
    await cluster.down().catch((e) => console.log(`cluster down: ${e.message}`));
  }
  if (sink) {
    await sink.stop().catch((e) => console.log(`SMTP server: ${e.message}`));
    mails = sink.messages();
    await fs.mkdir(path.join(outDir, 'mail'), {recursive: true}).catch(() => {});
    for (const m of mails)
      await fs.writeFile(path.join(outDir, 'mail', `${m.file.replace(/\.json$/, '')}.eml`), m.data).catch(() => {});
    sink = null;
  }
  if (idp) {
    if (failed)
      await fs.writeFile(path.join(outDir, 'oidc-idp.log'), idp.log(400)).catch(() => {});
    await idp.stop().catch((e) => console.log(`OpenID Provider: ${e.message}`));
    idp = null;
  }
  for (const dir of temps)
    await fs.rm(dir, {recursive: true, force: true}).catch(() => {});
}

async function main() {
  outDir = option('--out', 'JOCONDE_PORTAL_ARTEFACTS', '') || await fs.mkdtemp(path.join(os.tmpdir(), 'joconde-portal-artefacts-'));
  await fs.mkdir(outDir, {recursive: true});
  evidence = new Evidence(outDir, path.join(here, 'node_modules', 'axe-core', 'axe.min.js'));
  console.log(`portal test: source ${sourceDir}, build ${buildDir}, artefacts ${outDir}${fromSource ? ', portal served from the source tree' : ''}`);
  let failed = true;
  const watchdog = setTimeout(async () => {
    console.log(`FAIL  the whole test took longer than ${TOTAL_LIMIT_MS / 60000} minutes`);
    await cleanUp(true);
    process.exit(1);
  }, TOTAL_LIMIT_MS);
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.on(signal, async () => {
      await cleanUp(true);
      process.exit(1);
    });
  try {
    await scenario();
    failed = false;
  } catch (e) {
    if (!steps.done.some((s) => !s.ok))
      console.log(`FAIL  ${e.stack ?? e}`);
  } finally {
    clearTimeout(watchdog);
    await cleanUp(failed);
  }
  for (const m of mails)
    console.log(`MAIL  ${m.file.replace(/\.json$/, '')} to ${m.rcpt.join(', ')}: ${m.subject}`);
  console.log(`${failed ? 'FAILED' : 'PASSED'}: ${steps.summary()}; ${mails.length} e-mail(s) received; screenshots and `
    + `e-mails in ${outDir}`);
  process.exit(failed ? 1 : 0);
}

main();
