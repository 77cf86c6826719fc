// The portal's log-in through the organisation's identity provider (OpenID Connect, authorization code
// flow with PKCE), end to end in headless Chromium against a real OpenID Provider (oidc_idp.py, started
// by harness.mjs's OidcProvider): a person of client-b's organisation presses "Log in with …" by
// keyboard, logs in at the provider's page by keyboard and comes back logged in with the role their
// group maps to; logged out, a link to a page that needs a session leads through the provider back to
// that page. Its negative twins come back to the log-in page with the node's reason and no session:
// a forged ID token (signed by a key the provider does not publish), a person whose groups give no
// role, a log-in cancelled at the provider. Every page, the provider's among them, is screenshotted
// and audited with axe-core.
//
// portal_test.mjs runs these steps (oidcSteps) once the cluster is up with the provider's options
// (idp.clusterOptions(OIDC_GROUPS)) and Chromium trusts the provider's CA (harness.mjs trustAlso).

import {randomBytes} from 'node:crypto';

/// The provider's groups and the roles they give at every node (ops/cluster up --oidc-groups).
export const OIDC_GROUPS = 'stat-auditors:auditor, stat-it:it_admin';

/// The nodes whose people log in at the provider: each is its client, the client id its name.
const NODES_WITH_PEOPLE = ['client-a', 'client-b', 'root'];

/// The provider's users: one per case (see oidc_idp.py for what each setting does). nobody's token
/// is signed RS256, olga's and mallory's ES256: that nobody reaches the role check shows that the node
/// verified an RS256 signature, olga's log-in an ES256 one.
function usersOf() {
  const password = () => randomBytes(12).toString('base64url');
  return {
    olga: {password: password(), sub: 'f2b1c7e0-olga', email: 'olga@client-b.example', groups: ['stat-auditors', 'staff'],
      alg: 'ES256'},
    mallory: {password: password(), sub: 'f2b1c7e0-mallory', email: 'mallory@client-b.example', groups: ['stat-auditors'],
      alg: 'ES256', forge: true},
    nobody: {password: password(), sub: 'f2b1c7e0-nobody', email: 'nobody@client-b.example', groups: ['stat-visitors'],
      alg: 'RS256'},
  };
}

/// The steps. `launchPerson(label, node, role)` is portal_test.mjs's person() (a fresh incognito
/// browser at `node`; the role only names the API token it carries, unused here); `open`, `tabTo`,
/// `press`, `waitText`, `expectFocus` are its helpers of the same names; the people it makes are
/// added to `people` (whose pages' script errors the test checks at its end).
export async function oidcSteps({steps, cluster, idp, launchPerson, people = {}, evidence, open, tabTo, press, waitText,
  expectFocus, node = 'client-b'}) {
  const users = usersOf();
  const callback = `${cluster.url(node)}/v1/oidc/callback`;
  /// The session cookie of the node's portal (as for a log-in with a password).
  const cookieName = `__Host-joconde-${node}`;

  /// Runs `fn`; a failure carries the provider's last log lines (what it received, what it refused).
  const withLog = async (fn) => {
    try {
      return await fn();
    } catch (e) {
      e.message = `${e.message}\n  the OpenID Provider's log:\n    ${idp.log(12).split('\n').join('\n    ')}`;
      throw e;
    }
  };

  /// A new person in their own browser at `node`, on its log-in page (`hash`: a page asked for
  /// without a session, which leads there).
  const arrive = async (label, hash = '#/login') => {
    const p = people[label] = await launchPerson(label, node, 'auditor');
    await open(p, hash);
    await p.page.waitForSelector('main:not([aria-busy]) #login');
    return p;
  };

  /// The log-in page offers the provider: the button's text and where it leads (`then`).
  const expectButton = async (p, then) => {
    const offer = await p.page.evaluate(async () => {
      const res = await fetch('/v1/oidc', {cache: 'no-store'});
      const link = document.querySelector('#oidc-login');
      return {status: res.status, doc: res.ok ? await res.json() : null, text: link?.textContent.trim(),
        href: link?.getAttribute('href'), tag: link?.tagName, first: document.querySelector('main a, main button, main input') === link};
    });
    if (offer.status !== 200 || offer.doc?.enabled !== true)
      throw new Error(`${p.label}: GET /v1/oidc answered ${offer.status} ${JSON.stringify(offer.doc)}`);
    const href = then ? `/v1/oidc/login?then=${encodeURIComponent(then)}` : '/v1/oidc/login';
    if (offer.text !== `Log in with ${offer.doc.label}` || offer.href !== href || !offer.first)
      throw new Error(`${p.label}: the log-in page offers ${JSON.stringify(offer)}, not the first control "Log in with `
        + `${offer.doc.label}" to ${href}`);
    return offer.doc.label;
  };

  /// p presses the provider's button by keyboard and lands on the provider's log-in page; the
  /// authorization request the node sent them with must be the contract's.
  const toProvider = async (p) => {
    await tabTo(p, '#oidc-login');
    await expectFocus(p, '#oidc-login', 'Tab to the identity provider\'s button');
    await Promise.all([p.page.waitForNavigation({waitUntil: 'load'}), p.page.keyboard.press('Enter')]);
    const at = new URL(p.page.url());
    if (`${at.origin}${at.pathname}` !== `${idp.issuer}/authorize`)
      throw new Error(`${p.label}'s button led to ${at.origin}${at.pathname}, not ${idp.issuer}/authorize`);
    const q = at.searchParams;
    const wrong = [['response_type', 'code'], ['client_id', node], ['redirect_uri', callback],
      ['code_challenge_method', 'S256']].filter(([k, v]) => q.get(k) !== v).map(([k]) => `${k}=${q.get(k)}`);
    if (!(q.get('scope') ?? '').split(' ').includes('openid') || !/^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') ?? '')
      || (q.get('state') ?? '').length < 16 || (q.get('nonce') ?? '').length < 16)
      wrong.push(`scope=${q.get('scope')}, a code_challenge, state and nonce of 16+ characters`);
    if (wrong.length)
      throw new Error(`${p.label}: the node's authorization request has ${wrong.join(', ')}`);
    await p.page.waitForSelector('#idp-login');
    const binding = (await p.page.cookies(cluster.url(node))).filter((c) => c.name !== cookieName);
    if (!binding.some((c) => c.httpOnly && c.secure && c.sameSite === 'Lax'))
      throw new Error(`${p.label}: the node bound the log-in to no HttpOnly, Secure, SameSite=Lax cookie: `
        + `${JSON.stringify(binding.map(({name, httpOnly, secure, sameSite}) => ({name, httpOnly, secure, sameSite})))}`);
  };

  /// At the provider's page, by keyboard: the user name, Tab, the password, Enter; resolves once the
  /// browser is back at the portal with its page drawn.
  const logInThere = async (p, user, password) => {
    await tabTo(p, '#username');
    await p.page.keyboard.type(user);
    await p.page.keyboard.press('Tab');
    await expectFocus(p, '#password', 'Tab from the user name at the identity provider');
    await p.page.keyboard.type(password);
    await Promise.all([p.page.waitForNavigation({waitUntil: 'load'}), p.page.keyboard.press('Enter')]);
    await back(p);
  };

  /// Waits until p is back at the portal of `node` with its page drawn.
  const back = async (p) => {
    await p.page.waitForFunction((base) => location.href.startsWith(`${base}/portal/`), {timeout: 30000}, cluster.url(node))
      .catch(async () => {
        throw new Error(`${p.label} is at ${p.page.url().split('?')[0]}, not back at ${cluster.url(node)}/portal/`);
      });
    await p.page.waitForSelector('main:not([aria-busy]) h1');
  };

  /// The session p's browser has at the node now: {status, doc}.
  const sessionOf = (p) => p.page.evaluate(async () => {
    const res = await fetch('/v1/session', {cache: 'no-store'});
    return {status: res.status, doc: res.ok ? await res.json() : null};
  });

  /// p is logged in as oidc:NAME with exactly `roles`, by way of the provider.
  const expectSession = async (p, name, roles) => {
    const {status, doc} = await sessionOf(p);
    if (status !== 200 || doc.user !== `oidc:${name}` || doc.via !== 'oidc' || [...doc.roles].sort().join() !== roles.join())
      throw new Error(`${p.label}'s session: ${status} ${JSON.stringify({user: doc?.user, via: doc?.via, roles: doc?.roles})}`);
    await waitText(p, '#whoami', `oidc:${name}`);
    const cookie = (await p.page.cookies()).find((c) => c.name === cookieName);
    if (!cookie || !cookie.httpOnly || !cookie.secure || cookie.sameSite !== 'Strict')
      throw new Error(`${p.label}'s session cookie ${cookieName} is not HttpOnly, Secure, SameSite=Strict: ${JSON.stringify(cookie)}`);
    return doc;
  };

  /// p is back at the log-in page with the node's reason `code`, and without a session.
  const expectRefused = async (p, code) => {
    await p.page.waitForSelector('main:not([aria-busy]) #oidc-refused', {timeout: 30000}).catch(async () => {
      const h1 = await p.page.$eval('main h1', (e) => e.textContent).catch(() => '(none)');
      throw new Error(`${p.label} came back to ${await p.page.evaluate(() => location.hash)} ("${h1}") without #oidc-refused`);
    });
    const shown = await p.page.evaluate(() => ({
      hash: location.hash,
      code: document.querySelector('#oidc-refused')?.dataset.code,
      role: document.querySelector('#oidc-refused')?.getAttribute('role'),
      text: document.querySelector('#oidc-refused')?.textContent.trim(),
      offered: !!document.querySelector('#oidc-login'),
      form: !!document.querySelector('#login'),
      who: document.querySelector('#whoami')?.textContent ?? '',
    }));
    if (shown.hash !== `#/login?oidc_error=${code}` || shown.code !== code || shown.role !== 'alert')
      throw new Error(`${p.label} is at ${shown.hash} with ${JSON.stringify(shown)}, not refused with ${code}`);
    if (!shown.offered || !shown.form || shown.who)
      throw new Error(`${p.label}'s log-in page after the refusal: ${JSON.stringify(shown)}`);
    const {status} = await sessionOf(p);
    if (status !== 401)
      throw new Error(`${p.label} was refused (${code}) but GET /v1/session answers ${status}`);
    return shown.text;
  };

  await steps.step('the OpenID Provider knows each node with people as a client (its callback) and three people', async () => {
    const clients = Object.fromEntries(NODES_WITH_PEOPLE.filter((n) => cluster.nodes[n])
      .map((n) => [n, [`${cluster.url(n)}/v1/oidc/callback`]]));
    await idp.configure(clients, users);
    return `${idp.issuer}: clients ${Object.keys(clients).join(', ')}; groups ${OIDC_GROUPS}`;
  });

  await steps.step(`${node}'s olga (group stat-auditors) logs in at the identity provider, by keyboard, and comes back an auditor`, () => withLog(async () => {
    const p = await arrive('olga');
    const label = await expectButton(p, '');
    await evidence.capture(p.page, p.label, 'login-oidc');
    await toProvider(p);
    await evidence.capture(p.page, p.label, 'idp-login');
    await logInThere(p, 'olga', users.olga.password);
    await p.page.waitForSelector('main:not([aria-busy]) h1');
    const hash = await p.page.evaluate(() => location.hash);
    if (hash !== '#/ctas')
      throw new Error(`olga landed at ${hash}, not at her home page #/ctas`);
    const doc = await expectSession(p, 'olga', ['auditor']);
    await waitText(p, 'main h1', 'Agreements');
    const ctas = await p.page.$$eval('#cta-list tbody tr', (rows) => rows.length);
    await evidence.capture(p.page, p.label, 'ctas');
    return `"Log in with ${label}"; ${doc.user} via ${doc.via}, roles ${doc.roles.join(', ')}; ${ctas} CTA(s) listed`;
  }));

  await steps.step('olga logs out, follows a link to the Node page: the identity provider\'s log-in leads back there', () => withLog(async () => {
    const p = people.olga;
    await tabTo(p, '#logout');
    await press(p, '#logout');
    await p.page.waitForSelector('main:not([aria-busy]) #login');
    if ((await sessionOf(p)).status !== 401)
      throw new Error('olga\'s session outlived her log-out');
    await open(p, '#/node');
    await p.page.waitForSelector('main:not([aria-busy]) #login');
    await expectButton(p, '#/node');
    await toProvider(p);
    await logInThere(p, 'olga', users.olga.password);
    await p.page.waitForSelector('main:not([aria-busy]) #identity');
    const hash = await p.page.evaluate(() => location.hash);
    if (hash !== '#/node')
      throw new Error(`olga landed at ${hash}, not at the page she asked for (#/node)`);
    await expectSession(p, 'olga', ['auditor']);
    await evidence.capture(p.page, p.label, 'node-after-oidc');
    return 'then=#/node honoured';
  }));

  await steps.step('twin: mallory\'s ID token is signed by a key the provider does not publish: refused (invalid_token), no session', () => withLog(async () => {
    const p = await arrive('mallory');
    await expectButton(p, '');
    await toProvider(p);
    await logInThere(p, 'mallory', users.mallory.password);
    const said = await expectRefused(p, 'invalid_token');
    await evidence.capture(p.page, p.label, 'refused-invalid-token');
    return `"${said}"`;
  }));

  await steps.step('twin: nobody\'s groups give no role (an RS256 token, verified): refused (no_role), no session', () => withLog(async () => {
    const p = await arrive('nobody');
    await expectButton(p, '');
    await toProvider(p);
    await logInThere(p, 'nobody', users.nobody.password);
    const said = await expectRefused(p, 'no_role');
    await evidence.capture(p.page, p.label, 'refused-no-role');
    return `"${said}"`;
  }));

  await steps.step('twin: at the identity provider a wrong password is refused there, then Cancel (by keyboard): refused (denied), no session', () => withLog(async () => {
    const p = await arrive('olgaCancels');
    await expectButton(p, '');
    await toProvider(p);
    await tabTo(p, '#username');
    await p.page.keyboard.type('olga');
    await p.page.keyboard.press('Tab');
    await p.page.keyboard.type('not her password');
    await Promise.all([p.page.waitForNavigation({waitUntil: 'load'}), p.page.keyboard.press('Enter')]);
    await waitText(p, '#idp-error', 'wrong password');
    await evidence.capture(p.page, p.label, 'idp-wrong-password');
    await tabTo(p, '#idp-cancel');
    await expectFocus(p, '#idp-cancel', 'Tab to Cancel at the identity provider');
    await Promise.all([p.page.waitForNavigation({waitUntil: 'load'}), p.page.keyboard.press('Enter')]);
    await back(p);
    const said = await expectRefused(p, 'denied');
    await evidence.capture(p.page, p.label, 'refused-denied');
    return `"${said}"`;
  }));
}
