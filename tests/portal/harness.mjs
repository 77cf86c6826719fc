// The machinery of the portal's end-to-end test (portal_test.mjs): a local cluster (ops/cluster),
// headless Chromium that trusts the cluster's root CA through its own NSS database, one incognito
// browser context per person, and for every page a screenshot and an axe-core audit.

import {execFile, spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import * as fs from 'node:fs/promises';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import {promisify} from 'node:util';

import puppeteer from 'puppeteer-core';

const run = promisify(execFile);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Runs `file` with `args`; resolves to its stdout; rejects with its stderr (bounded by `timeoutMs`).
export async function sh(file, args, {env = process.env, timeoutMs = 120000, cwd} = {}) {
  try {
    const {stdout} = await run(file, args, {env, cwd, timeout: timeoutMs, maxBuffer: 64 << 20});
    return stdout;
  } catch (e) {
    const said = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${path.basename(file)} ${args.join(' ')} failed${e.killed ? ' (timed out)' : ''}: ${said || e.message}`);
  }
}

/// Polls `probe` until it resolves to something truthy, every `everyMs`, for at most `timeoutMs`;
/// the error says `what` and the last value seen.
export async function until(what, probe, {timeoutMs, everyMs = 1000}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last)
      return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last === undefined ? '' : ` (last: ${last})`}`);
    await sleep(everyMs);
  }
}

// -- steps -------------------------------------------------------------------------------------------

/// Runs named steps in order, printing one line per step with its time; the first failure stops the
/// run (later steps build on earlier ones).
export class Steps {
  constructor() {
    this.done = [];
    this.started = Date.now();
  }

  async step(name, fn) {
    const t0 = Date.now();
    try {
      const note = await fn();
      const ms = Date.now() - t0;
      this.done.push({name, ok: true, ms});
      console.log(`PASS  ${name} (${ms} ms)${note ? `: ${note}` : ''}`);
    } catch (e) {
      const ms = Date.now() - t0;
      this.done.push({name, ok: false, ms});
      console.log(`FAIL  ${name} (${ms} ms): ${e.message}`);
      throw e;
    }
  }

  summary() {
    const failed = this.done.filter((s) => !s.ok).length;
    const total = Math.round((Date.now() - this.started) / 1000);
    return `${this.done.length - failed} step(s) passed, ${failed} failed, in ${total} s`;
  }
}

// -- the cluster -------------------------------------------------------------------------------------

/// A local six-node cluster in a fresh directory: `up(extra)` starts it (`extra`: more options of
/// `ops/cluster up`), `down()` stops it.
export class Cluster {
  constructor(sourceDir, buildDir, dir) {
    this.script = path.join(sourceDir, 'ops', 'cluster');
    this.dir = dir;
    this.env = {...process.env, JOCONDE_NODE_BIN: path.join(buildDir, 'bin', 'joconde-node'), BUILD_DIR: buildDir};
    this.nodes = {};
  }

  async up(extra = []) {
    await sh(this.script, ['up', '--dir', this.dir, ...extra], {env: this.env, timeoutMs: 240000});
    const doc = JSON.parse(readFileSync(path.join(this.dir, 'cluster.json'), 'utf8'));
    for (const n of doc.nodes)
      this.nodes[n.name] = n;
  }

  async down() {
    if (existsSync(path.join(this.dir, 'cluster.json')))
      await sh(this.script, ['down', '--dir', this.dir], {env: this.env, timeoutMs: 60000});
  }

  /// The API token of the user with `role` at node `name`.
  token(name, role) {
    return this.nodes[name].users[role].token;
  }

  url(name) {
    return this.nodes[name].http_url.replace(/\/$/, '');
  }
}

// -- the mail ----------------------------------------------------------------------------------------

/// One e-mail as the SMTP sink stored it: the envelope, how it came (TLS, authenticated), its headers
/// (names in lower case, folded lines joined) and body (CRLF made LF), and the portal link it carries.
export class Mail {
  constructor(file, doc) {
    this.file = file;
    this.from = doc.mail_from;
    this.rcpt = doc.rcpt_tos ?? [];
    this.tls = doc.tls === true;
    this.authenticated = doc.authenticated === true;
    this.data = String(doc.data ?? '').replace(/\r\n/g, '\n');
    const cut = this.data.indexOf('\n\n');
    const head = cut < 0 ? this.data : this.data.slice(0, cut);
    this.body = cut < 0 ? '' : this.data.slice(cut + 2);
    this.headers = {};
    // Unfolding (RFC 5322 2.2.3): a line break before white space is taken out, the space kept.
    for (const line of head.replace(/\n(?=[ \t])/g, '').split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0)
        this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.subject = this.headers.subject ?? '';
    this.link = /^Open it in the portal: (\S+)$/m.exec(this.body)?.[1] ?? '';
  }
}

/// Ends `child` (a test server this process started, reading its stdin): SIGTERM, stdin closed, and
/// resolves once it exited or after 10 s.
async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null)
    return;
  const ended = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  child.stdin.end();
  await Promise.race([ended, sleep(10000)]);
}


/// A local SMTP server (tests/portal/smtp_sink.py, aiosmtpd) that requires STARTTLS and AUTH with a
/// user and password of its own, and keeps every message it accepts as a JSON file in `dir`.
export class MailSink {
  constructor(script, dir) {
    this.script = script;
    this.dir = dir;
    this.child = null;
    this.user = `joconde-test-${randomBytes(4).toString('hex')}`;
    this.passwordFile = path.join(dir, 'relay-password');
    this.messagesDir = path.join(dir, 'messages');
  }

  /// Starts the server; resolves once it listens, to {port, ca} (the CA file of its certificate).
  async start() {
    await fs.writeFile(this.passwordFile, `${randomBytes(18).toString('base64url')}\n`, {mode: 0o600});
    await fs.chmod(this.passwordFile, 0o600);
    // Debian's python3 (with python3-aiosmtpd), not whichever python3 comes first on PATH. Its stdin
    // stays an open pipe: the server stops when it closes (this process ending, whatever the way).
    this.child = spawn('/usr/bin/python3', [this.script, this.messagesDir, this.user, this.passwordFile],
      {stdio: ['pipe', 'pipe', 'pipe']});
    let said = '';
    this.child.stderr.on('data', (d) => { said = (said + d).slice(-4000); });
    const ready = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the SMTP sink did not start in 30 s: ${said}`)), 30000);
      this.child.stdout.on('data', (d) => {
        out += d;
        const m = /^ready (\d+) (\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({port: Number(m[1]), ca: m[2]});
        }
      });
      this.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the SMTP sink ended (${code}) before it listened: ${said.trim()}`));
      });
    });
    this.child.removeAllListeners('exit');
    this.port = ready.port;
    this.ca = ready.ca;
    return ready;
  }

  /// The options of `ops/cluster up` that make the nodes send their e-mails here.
  clusterOptions() {
    return ['--mail-relay', `127.0.0.1:${this.port}`, '--mail-ca', this.ca, '--mail-user', this.user,
      '--mail-password-file', this.passwordFile];
  }

  /// Every message received so far, in the order received.
  messages() {
    if (!existsSync(this.messagesDir))
      return [];
    return readdirSync(this.messagesDir).filter((f) => /^\d+\.json$/.test(f)).sort()
      .map((f) => new Mail(f, JSON.parse(readFileSync(path.join(this.messagesDir, f), 'utf8'))));
  }

  /// The first message that `match` accepts, waiting for it at most `timeoutMs`.
  async waitFor(what, match, timeoutMs) {
    try {
      return await until(what, async () => this.messages().find(match), {timeoutMs, everyMs: 500});
    } catch (e) {
      const seen = this.messages().map((m) => `${m.rcpt.join(',')}: ${m.subject}`);
      throw new Error(`${e.message}; received so far: ${seen.length ? seen.join(' | ') : 'none'}`);
    }
  }

  /// Stops the server (SIGTERM to the process this started) and resolves when it has ended.
  async stop() {
    await stopChild(this.child);
  }
}

// -- the browser -------------------------------------------------------------------------------------

/// A throw-away HOME whose NSS database (where Chromium on Linux looks for locally trusted roots)
/// trusts `rootCa` to issue server certificates, and nothing else of the host's.
export async function trustingHome(rootCa) {
  if (!process.env.PATH.split(':').some((dir) => existsSync(path.join(dir, 'certutil'))))
    throw new Error('certutil is missing: install it (Debian: apt-get install libnss3-tools)');
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'joconde-portal-home-'));
  const db = path.join(home, '.pki', 'nssdb');
  await fs.mkdir(db, {recursive: true});
  await sh('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  await sh('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'joconde test root CA', '-i', rootCa]);
  return home;
}

/// Headless Chromium with HOME at `home`; certificate errors are errors (no ignoreHTTPSErrors).
export function launchBrowser(executablePath, home, profile) {
  const args = ['--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'];
  // Chromium refuses to run as root with its sandbox (containers, CI).
  if (process.getuid?.() === 0)
    args.push('--no-sandbox');
  return puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir: profile,
    args,
    env: {...process.env, HOME: home},
    defaultViewport: {width: 1280, height: 900},
  });
}

/// GETs `url` (HTTPS, verified against `ca`); resolves to {status, headers}.
export function headOf(url, ca) {
  return new Promise((resolve, reject) => {
    https.get(url, {ca: readFileSync(ca)}, (res) => {
      res.resume();
      resolve({status: res.statusCode, headers: res.headers});
    }).on('error', reject);
  });
}

/// For portal development: answers the page's requests for /portal/ files from `portalDir` (the
/// source tree) instead of the node's built-in copy, with the node's own response headers (its
/// CSP among them), so the portal's sources are tested without rebuilding joconde-node.
export async function servePortalFromSource(page, base, ca, portalDir) {
  const {headers} = await headOf(`${base}/portal/index.html`, ca);
  const types = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8'};
  await page.setRequestInterception(true);
  page.on('request', async (req) => {
    const url = new URL(req.url());
    if (`${url.protocol}//${url.host}` !== base || !url.pathname.startsWith('/portal/')) {
      req.continue();
      return;
    }
    const rel = url.pathname === '/portal/' ? 'index.html' : url.pathname.slice('/portal/'.length);
    const file = path.join(portalDir, path.normalize(rel));
    if (!file.startsWith(portalDir) || !existsSync(file)) {
      req.respond({status: 404, body: 'not found'});
      return;
    }
    req.respond({status: 200, headers: {...headers, 'content-type': types[path.extname(file)] ?? 'application/octet-stream'},
      body: await fs.readFile(file)});
  });
}

// -- pages: screenshots and accessibility ------------------------------------------------------------

/// Screenshots and axe-core audits of every page the test sees, numbered in order.
export class Evidence {
  constructor(outDir, axePath) {
    this.outDir = outDir;
    this.axeSource = readFileSync(axePath, 'utf8');
    this.count = 0;
    this.audits = [];
  }

  /// A full-page PNG of `page` named after `who` and `what`, then its audit; throws on a serious
  /// or critical violation.
  async capture(page, who, what) {
    this.count += 1;
    const name = `${String(this.count).padStart(2, '0')}-${who}-${what}`.replace(/[^a-zA-Z0-9._-]+/g, '_');
    await page.screenshot({path: path.join(this.outDir, `${name}.png`), fullPage: true});
    const bad = await this.audit(page);
    this.audits.push({name, bad: bad.length});
    if (bad.length)
      throw new Error(`axe-core on ${name}: ${bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.targets}`).join('; ')}`);
  }

  /// axe-core's serious and critical violations on `page`. The node's CSP (script-src 'self') keeps
  /// a <script> element with axe's source from running, so the source is evaluated through the
  /// DevTools protocol, which the page's CSP does not govern; the portal's own CSP stays in force.
  async audit(page) {
    if (!await page.evaluate(() => typeof window.axe === 'object'))
      await page.evaluate(this.axeSource);
    const result = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}));
  }
}

// -- the identity provider ---------------------------------------------------------------------------

/// Adds `ca` to the NSS database of `home` (made by trustingHome) as a CA trusted to issue server
/// certificates, named `nickname`: for a second server of the test (the identity provider). Chromium
/// reads the database when it starts: call this before launchBrowser.
export async function trustAlso(home, ca, nickname) {
  await sh('certutil', ['-d', `sql:${path.join(home, '.pki', 'nssdb')}`, '-A', '-t', 'C,,', '-n', nickname, '-i', ca]);
}

/// A local OpenID Provider (tests/portal/oidc_idp.py, Debian's python3 with python3-cryptography):
/// HTTPS on 127.0.0.1 with a CA of its own (`ca`), ID tokens signed with ES256 or RS256 (or, for a
/// user with `forge`, an unpublished key), one client secret shared by every node (a file for the
/// nodes' oidc.client-secret-file), its clients and users from a JSON file the test writes once the
/// nodes' ports are known (configure).
export class OidcProvider {
  constructor(script, dir) {
    this.script = script;
    this.dir = dir;
    this.child = null;
    this.said = '';
    this.configFile = path.join(dir, 'idp.json');
    this.secretFile = path.join(dir, 'client-secret');
    this.secret = randomBytes(24).toString('base64url');
  }

  /// Starts the provider; resolves once it listens, to {port, issuer, ca}.
  async start() {
    await fs.writeFile(this.secretFile, `${this.secret}\n`, {mode: 0o600});
    await fs.chmod(this.secretFile, 0o600);
    // Its stdin stays an open pipe: it stops when that closes (this process ending, whatever the way).
    this.child = spawn('/usr/bin/python3', [this.script, '--dir', path.join(this.dir, 'tls'), '--config', this.configFile,
      '--exit-with-stdin'], {stdio: ['pipe', 'pipe', 'pipe']});
    this.child.stderr.on('data', (d) => { this.said = (this.said + d).slice(-20000); });
    const ready = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`the OpenID Provider did not start in 30 s: ${this.said}`)), 30000);
      this.child.stdout.on('data', (d) => {
        out += d;
        const m = /^(\{.*\})\n/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]));
        }
      });
      this.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the OpenID Provider ended (${code}) before it listened: ${this.said.trim()}`));
      });
    });
    this.child.removeAllListeners('exit');
    this.port = ready.port;
    this.issuer = ready.issuer;
    this.ca = ready.ca;
    return {port: this.port, issuer: this.issuer, ca: this.ca};
  }

  /// The options of `ops/cluster up` that give every node with people a log-in here: the client id
  /// is the node's name, the secret this provider's, `groups` the map "GROUP:role, GROUP:role".
  clusterOptions(groups) {
    return ['--oidc-issuer', this.issuer, '--oidc-ca', this.ca, '--oidc-client-secret-file', this.secretFile,
      '--oidc-groups', groups];
  }

  /// Writes the provider's clients and users (read again at its every request): `clients` maps a
  /// client id to its redirect URIs, each with this provider's secret; `users` as oidc_idp.py reads
  /// them ({password, sub, email, groups, alg, forge, audience, expired}).
  async configure(clients, users) {
    const doc = {
      clients: Object.fromEntries(Object.entries(clients).map(([id, uris]) => [id, {secret: this.secret, redirect_uris: uris}])),
      users,
    };
    await fs.writeFile(`${this.configFile}.tmp`, `${JSON.stringify(doc, null, 2)}\n`, {mode: 0o600});
    await fs.rename(`${this.configFile}.tmp`, this.configFile);
  }

  /// The last lines the provider logged (a line per request, its refusals and why; no secret).
  log(lines = 15) {
    return this.said.trim().split('\n').slice(-lines).join('\n');
  }

  /// Stops the provider (SIGTERM to the process this started) and resolves when it has ended.
  async stop() {
    await stopChild(this.child);
  }
}
