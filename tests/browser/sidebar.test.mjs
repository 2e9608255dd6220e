// tests/browser/sidebar.test.mjs — the private Zendesk app's sidebar, taken from the ZIP
// deskbridge builds (GET /api/setup/zendesk-app.zip), in Debian's chromium against the real
// deskbridge started by run_browser_tests.py.
//
// Zendesk serves an app's assets itself and the page loads Zendesk's Apps Framework SDK
// from static.zdassets.com; neither is reachable here. So playwright answers both: the
// assets from the ZIP under a Zendesk-like origin, and the SDK with a stand-in ZAFClient
// with exactly the calls sidebar.js makes, behaving as ZAF documents them:
//   ZAFClient.init()                     -> the client
//   client.get('ticket.tags')            -> Promise of {'ticket.tags': [...]}
//   client.metadata()                    -> Promise of {settings: {...}} (the app's parameters)
//   client.request({url, headers, secure}) -> Zendesk's proxy performs it server-side,
//        replacing {{setting.NAME}} with secure settings; resolves with the parsed JSON,
//        rejects with {status, statusText, responseText, responseJSON} on a non-2xx
//   client.invoke('resize', ...)         -> resizes the iframe
// The proxy runs in this Node process (page.exposeFunction), as Zendesk's runs on its
// servers: the browser never sees the credentials and needs no CORS.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';

const BASE = process.env.DESKBRIDGE_BASE_URL;
const OUT = process.env.BROWSER_OUTPUT_DIR;
const APP_ORIGIN = 'https://1234567.apps.zdusercontent.example';
const SDK_URL = 'https://static.zdassets.com/zendesk_app_framework_sdk/2.0/zaf_sdk.min.js';

async function api(method, url, { body, headers = {}, raw = false } = {}) {
	const r = await fetch(BASE + url, { method, headers: { 'Content-Type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body) });
	if (raw)
		return { status: r.status, bytes: Buffer.from(await r.arrayBuffer()) };
	const text = await r.text();
	return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

/* The files of a ZIP, by name (central directory; stored or deflated entries). */
function unzip(buf) {
	const files = {};
	let eocd = buf.length - 22;
	while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50)
		eocd--;
	assert(eocd >= 0, 'no end of central directory');
	let p = buf.readUInt32LE(eocd + 16);
	for (let n = buf.readUInt16LE(eocd + 10); n > 0; n--) {
		const method = buf.readUInt16LE(p + 10), size = buf.readUInt32LE(p + 20);
		const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
		const local = buf.readUInt32LE(p + 42);
		const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
		const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
		const data = buf.subarray(start, start + size);
		files[name] = method === 8 ? zlib.inflateRawSync(data) : Buffer.from(data);
		p += 46 + nameLen + extraLen + commentLen;
	}
	return files;
}

/* ---- deskbridge with a transfer and app credentials --------------------------------------- */

const HOSTILE_USER = '<img src=x onerror="window.__pwned=1">my order';
const HOSTILE_BOT = '<script>window.__pwned=2</script>Let me get you a person';
let creds, transfer, app;
// The app is built for deskbridge's public address; the stand-in for Zendesk's proxy below
// reaches it at BASE, as a TLS-terminating reverse proxy would.
const PUBLIC_URL = 'https://deskbridge.example';
if (!BASE)
	bail('DESKBRIDGE_BASE_URL is set', new Error('run me through run_browser_tests.py'));
let browser;
try {
	const login = await fetch(BASE + '/api/setup/session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ password: process.env.DESKBRIDGE_ADMIN_PASSWORD }) });
	const session = { Cookie: login.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': (await login.json()).csrf_token };
	assert((await api('PATCH', '/api/setup/config', { body: { transfers_enabled: true, deployment: { public_url: PUBLIC_URL } },
		headers: session })).status === 200, 'config');
	creds = (await api('POST', '/api/setup/app-credentials', { headers: session })).body.app_credentials;
	const t = await api('POST', '/api/transfers', { body: {
		visitor: { name: 'Zoë <b>Visitor</b>', email: 'zoe@shop.example' },
		message_to_human_agent: 'Customer asked about a refund for order 42',
		history: [{ from: 'user', text: HOSTILE_USER, time: '2026-11-24T10:00:00Z' },
			{ from: 'assistant', text: HOSTILE_BOT, time: '2026-11-24T10:00:05Z' },
			{ from: 'user', text: 'agent please', time: '2026-11-24T10:00:09Z' }],
		page_url: 'https://shop.example/orders/42' } });
	assert(t.status === 201, 'transfer: ' + JSON.stringify(t.body));
	transfer = t.body.id;
	const zip = await api('GET', '/api/setup/zendesk-app.zip', { headers: session, raw: true });
	assert(zip.status === 200, 'zip ' + zip.status);
	app = unzip(zip.bytes);
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge, fetch the app ZIP and launch chromium', e);
}
mkdirSync(OUT, { recursive: true });
const manifest = JSON.parse(app['manifest.json']);
const sidebarPath = manifest.location.support.ticket_sidebar.url;
const settings = { deskbridge_url: manifest.parameters.find((p) => p.name === 'deskbridge_url').default };
const problems = [];

/* The stand-in SDK: reads the ticket and settings the test gives, proxies requests to Node. */
const SDK = `(function () {
  var s = window.__zaf;
  function client() {
    return {
      get: function (p) { var o = {}; o[p] = s.tags; return Promise.resolve(o); },
      metadata: function () { return Promise.resolve({ appId: 1, installationId: 2, settings: s.settings }); },
      request: function (opts) {
        return window.__zafProxy(opts).then(function (r) {
          if (r.status >= 200 && r.status < 300) return r.json;
          return Promise.reject({ status: r.status, statusText: r.statusText, responseText: r.text, responseJSON: r.json });
        });
      },
      invoke: function () { return Promise.resolve({}); }
    };
  }
  window.ZAFClient = { init: client };
})();`;

/* Opens the sidebar for a ticket with these tags, with these secure settings. */
async function openSidebar({ tags, secure = { app_credentials: creds }, delayMs = 0, unreachable = false }) {
	const context = await browser.newContext({ viewport: { width: 360, height: 700 } });
	const page = await context.newPage();
	page.setDefaultTimeout(10000);
	watchProblems(page, problems);
	const calls = [];
	await page.exposeFunction('__zafProxy', async (opts) => {
		calls.push(opts);
		if (delayMs)
			await new Promise((r) => setTimeout(r, delayMs));
		if (unreachable)
			return { status: 0, statusText: 'error', text: '', json: null };
		const headers = {};
		for (const [k, v] of Object.entries(opts.headers || {}))
			headers[k] = opts.secure ? String(v).replace(/\{\{setting\.(\w+)\}\}/g, (_, n) => secure[n] ?? '') : v;
		const url = opts.url.startsWith(PUBLIC_URL + '/') ? BASE + opts.url.slice(PUBLIC_URL.length) : opts.url;
		const r = await fetch(url, { method: opts.type || 'GET', headers });
		const text = await r.text();
		let json = null;
		try { json = JSON.parse(text); } catch { json = null; }
		return { status: r.status, statusText: r.statusText, text, json };
	});
	await page.addInitScript((zaf) => { window.__zaf = zaf; }, { tags, settings });
	await page.route(SDK_URL, (route) => route.fulfill({ contentType: 'text/javascript', body: SDK }));
	await page.route(APP_ORIGIN + '/**', (route) => {
		const name = new URL(route.request().url()).pathname.slice(1);
		const body = app[name];
		if (!body)
			return route.fulfill({ status: 404, body: 'not in the app' });
		const type = name.endsWith('.html') ? 'text/html' : name.endsWith('.js') ? 'text/javascript'
			: name.endsWith('.css') ? 'text/css' : 'application/octet-stream';
		return route.fulfill({ contentType: type + '; charset=utf-8', body });
	});
	await page.goto(APP_ORIGIN + '/' + sidebarPath);
	return { page, context, calls };
}

const statusText = (page) => page.textContent('#status');

await check('the app ZIP holds the sidebar page, with a CSP without unsafe-inline and no inline script', async () => {
	const html = String(app[sidebarPath]);
	const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html);
	assert(csp && /default-src 'self'/.test(csp[1]) && !/unsafe-inline/.test(csp[1]), 'CSP: ' + (csp && csp[1]));
	assert(!/<script>|<script [^>]*>[^<]/.test(html.replace(/<script src="[^"]+"><\/script>/g, '')), 'inline script');
	assert(settings.deskbridge_url === PUBLIC_URL, 'deskbridge_url default: ' + settings.deskbridge_url);
});

await check('it shows a loading state, then the visitor, the bot\'s note and the conversation with times', async () => {
	const { page, context, calls } = await openSidebar({ tags: ['deskbridge_dept_billing', 'deskbridge_' + transfer, 'vip'], delayMs: 800 });
	assert(/Loading/.test(await statusText(page)) && await page.isVisible('#status'), 'no loading state');
	await page.locator('#transfer').waitFor({ state: 'visible' });
	assert(calls.length === 1 && calls[0].url === PUBLIC_URL + '/api/agent/transfers/' + transfer, 'request: ' + JSON.stringify(calls));
	assert(calls[0].headers.Authorization === 'Bearer {{setting.app_credentials}}' && calls[0].secure === true,
		'credentials must go as a secure setting placeholder');
	assert((await page.textContent('#visitor-name')) === 'Zoë <b>Visitor</b>', 'name');
	assert((await page.textContent('#visitor-email')) === 'zoe@shop.example', 'email');
	assert(/not verified/.test(await page.textContent('#visitor-auth')), 'authenticated state');
	assert((await page.textContent('#bot-message')) === 'Customer asked about a refund for order 42', 'bot note');
	assert((await page.getAttribute('#page-url', 'href')) === 'https://shop.example/orders/42', 'page url');
	const items = await page.$$eval('#history li', (els) => els.map((li) => ({
		who: li.querySelector('.who').textContent, text: li.querySelector('p').textContent, time: li.querySelector('time').textContent })));
	assert(JSON.stringify(items.map((i) => [i.who, i.text])) === JSON.stringify([['Visitor', HOSTILE_USER], ['Bot', HOSTILE_BOT],
		['Visitor', 'agent please']]), 'history: ' + JSON.stringify(items));
	assert(items.every((i) => i.time), 'times missing');
	const dom = await page.evaluate(() => ({ pwned: window.__pwned, tags: document.querySelectorAll('#app img, #app script, #app b').length }));
	assert(dom.pwned === undefined && dom.tags === 0, 'markup ran or rendered: ' + JSON.stringify(dom));
	await page.screenshot({ path: path.join(OUT, 'sidebar.png'), fullPage: true });
	await context.close();
});

await check('bad app credentials: a clear state saying what to do', async () => {
	const { page, context } = await openSidebar({ tags: ['deskbridge_' + transfer], secure: { app_credentials: 'wrong' } });
	await waitUntil('credentials message', async () => /refused the app's credentials/.test(await statusText(page)));
	assert(await page.isHidden('#transfer'), 'transfer shown');
	await page.screenshot({ path: path.join(OUT, 'sidebar-bad-credentials.png'), fullPage: true });
	await context.close();
});

await check('an unknown transfer, a ticket without a deskbridge tag, and deskbridge unreachable each have their state', async () => {
	for (const [opts, want] of [
		[{ tags: ['deskbridge_tr_000000000000000000000000'] }, /does not know this transfer/],
		[{ tags: ['deskbridge_dept_billing', 'vip'] }, /did not come from a deskbridge transfer/],
		[{ tags: ['deskbridge_' + transfer], unreachable: true }, /could not be reached/]]) {
		const { page, context } = await openSidebar(opts);
		await waitUntil(String(want), async () => want.test(await statusText(page)));
		assert(await page.isHidden('#transfer'), 'transfer shown for ' + want);
		await context.close();
	}
});

await check('no CSP violation or script error happened', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await browser.close();
done();
