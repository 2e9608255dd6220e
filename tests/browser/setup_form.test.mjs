// tests/browser/setup_form.test.mjs — the admin setup form (/setup/) in Debian's chromium.
//
// Run by run_browser_tests.py, which starts the real deskbridge and the fake Zendesk
// (tests/fake_zendesk.py, whose credentials it passes) for "Access account".
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { assert, bail, check, done, launchChromium } from '../tap.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.DESKBRIDGE_BASE_URL;
const PASSWORD = process.env.DESKBRIDGE_ADMIN_PASSWORD;
const OUT = process.env.BROWSER_OUTPUT_DIR || path.join(HERE, 'output');
const FAKE = process.env.FAKE_ZENDESK_URL;

if (!BASE || !PASSWORD || !FAKE)
	bail('DESKBRIDGE_BASE_URL, DESKBRIDGE_ADMIN_PASSWORD and FAKE_ZENDESK_URL are set', new Error('run me through run_browser_tests.py'));

/* ---- test data ---------------------------------------------------------------------- */

const tag = randomBytes(6).toString('hex');
const SECRETS = {
	// The fake Zendesk's own, random for each run.
	'zendesk.messaging.key_secret': process.env.FAKE_ZENDESK_KEY_SECRET,
	'zendesk.api_token': process.env.FAKE_ZENDESK_API_TOKEN,
	'zendesk.shared_secret': `sharedsecret-${tag}-C`,
	'zendesk.messaging.webhook_secret': `webhooksecret-${tag}-D`,
};
const JWT_KEY_ID = `app_${tag}`;
const APP_ID = process.env.FAKE_ZENDESK_APP_ID;
const KEY_ID = process.env.FAKE_ZENDESK_KEY_ID;
const API_USER = process.env.FAKE_ZENDESK_API_USER;
const SITE_PEM = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey
	.export({ type: 'spki', format: 'pem' }).toString();

/* A PNG of width x height, made here (zlib for the IDAT, CRC-32 by hand). */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
	let c = n;
	for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
	return c >>> 0;
});
function crc32(buf) {
	let c = 0xffffffff;
	for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
	return (c ^ 0xffffffff) >>> 0;
}
function png(width, height, rgb = [31, 95, 174]) {
	const chunk = (type, data) => {
		const len = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
		const crc = Buffer.alloc(4);
		crc.writeUInt32BE(crc32(body));
		return Buffer.concat([len, body, crc]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(width, 0);
	ihdr.writeUInt32BE(height, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = 2; // truecolour
	const rows = [];
	for (let y = 0; y < height; y++) {
		const row = Buffer.alloc(1 + width * 3);
		for (let x = 0; x < width; x++) {
			const inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (width / 2.5) ** 2;
			row.set(inside ? rgb : [240, 244, 248], 1 + x * 3);
		}
		rows.push(row);
	}
	return Buffer.concat([
		Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
		chunk('IHDR', ihdr),
		chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
		chunk('IEND', Buffer.alloc(0)),
	]);
}

const ZENDESK_BASE = FAKE;
const PUBLIC_URL = 'https://help.example.com';
const top = async (sel) => (await page.locator(sel).first().boundingBox()).y;
const inViewport = (sel) => page.locator(sel).evaluate((e) => {
	const r = e.getBoundingClientRect();
	return r.top >= 0 && r.bottom <= window.innerHeight;
});
const zendeskCalls = async () => (await (await fetch(FAKE + '/_fake/requests')).json()).requests;

/* ---- browser ------------------------------------------------------------------------ */

let browser;
try {
	browser = await launchChromium();
} catch (e) {
	bail('launch chromium', e);
}
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
page.setDefaultTimeout(10000);
const pageProblems = [];
page.on('console', (msg) => {
	if (msg.type() === 'error' && !/status of 4\d\d|status of 50\d/.test(msg.text()))
		pageProblems.push('console: ' + msg.text());
});
page.on('pageerror', (err) => pageProblems.push('page error: ' + err.message));
const acceptDialog = (d) => d.accept(); // confirm() before new credentials; beforeunload
page.on('dialog', acceptDialog);

const errorFor = (field) => page.locator(`[data-error-for="${field}"]`);
const secretInput = (field) => page.locator(`[data-secret="${field}"]`);
const badge = (field) => page.locator(`[data-secret-state="${field}"]`);

async function login() {
	await page.fill('#login-password', PASSWORD);
	await page.press('#login-password', 'Enter');
	await formShown();
}
/* After a login, or a reload within the session. */
async function formShown() {
	await page.locator('#app-view').waitFor({ state: 'visible' });
	// The configuration has arrived once the service key is filled in.
	await page.waitForFunction(() => document.querySelector('#service-key').value.includes('BEGIN PUBLIC KEY'));
}
async function saveAndWait() {
	await page.click('#save');
	await page.waitForFunction(() => {
		const s = document.querySelector('#save-status').textContent;
		return /^Saved at|^No changes/.test(s) || !document.querySelector('#form-error').hidden ||
			[...document.querySelectorAll('[data-error-for]')].some((e) => !e.hidden);
	});
}
async function apiConfig() {
	return page.evaluate(() => fetch('/api/setup/config').then((r) => r.json()));
}
async function domText() {
	return page.evaluate(() => document.documentElement.outerHTML + '\n' +
		[...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\n'));
}

/* ---- checks ------------------------------------------------------------------------- */

await check('the setup page loads and asks for the admin password', async () => {
	const res = await page.goto(BASE + '/setup/');
	assert(res.status() === 200, `status ${res.status()}`);
	await page.locator('#login-password').waitFor({ state: 'visible' });
	assert(await page.locator('#app-view').isHidden(), 'the form shows before login');
	const csp = res.headers()['content-security-policy'] || '';
	assert(csp.includes("default-src 'self'"), 'no strict CSP on /setup/: ' + csp);
});

await check('a wrong password shows the API\'s error beside the login form', async () => {
	await page.fill('#login-password', 'not-the-password');
	await page.click('#login-submit');
	const err = page.locator('#login-error');
	await err.waitFor({ state: 'visible' });
	const text = await err.textContent();
	assert(/password is wrong/i.test(text), 'login error: ' + text);
	assert(await page.locator('#app-view').isHidden(), 'the form shows after a wrong password');
	mkdirSync(OUT, { recursive: true });
	await page.screenshot({ path: path.join(OUT, 'setup-login.png') });
});

await check('the login form submits with Enter', async () => {
	await login();
	assert(await page.locator('#login-view').isHidden(), 'the login form is still shown');
});

await check('the CSRF token is kept in memory only (no web storage, session cookie HttpOnly)', async () => {
	const s = await page.evaluate(() => ({
		local: localStorage.length, session: sessionStorage.length, cookie: document.cookie,
	}));
	assert(s.local === 0 && s.session === 0, `web storage used: ${JSON.stringify(s)}`);
	assert(!s.cookie.includes('deskbridge'), 'session cookie readable by scripts: ' + s.cookie);
});

await check('every visible form control has a label', async () => {
	const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, textarea, select')]
		.filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
		.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
			!e.getAttribute('aria-labelledby'))
		.map((e) => e.id || e.outerHTML.slice(0, 80)));
	assert(unlabelled.length === 0, 'controls without a label: ' + unlabelled.join(', '));
});

await check('the form runs in IBM\'s order: transfers, Zendesk, credentials, Access account, app, avatar, Save', async () => {
	const order = ['#transfers-enabled', '#service-desk', '#subdomain', '#key-secret', '#api-token', '#verify',
		'#app-zip', '#app-creds-generate', '#avatar-file'];
	const ys = [];
	for (const sel of order) ys.push(await top(sel));
	assert(ys.every((y, i) => i === 0 || y > ys[i - 1]), 'out of order: ' +
		order.map((sel, i) => sel + '@' + Math.round(ys[i])).join(' '));
	// The save bar sticks to the bottom of the window; in the page it comes after them all.
	const last = await page.evaluate(() => [...document.querySelectorAll('#config-form input, #config-form button, #config-form a')]
		.filter((e) => e.offsetParent !== null).pop().id);
	assert(last === 'save', 'the last control of the form is ' + last);
	assert(await page.inputValue('#service-desk') === 'zendesk', 'Zendesk is not the service desk');
	assert((await page.textContent('label[for="service-desk"]')).trim() === 'Service desk', 'no service desk label');
});

await check('where IBM\'s admins look for the Chat account key, the form says it is not needed and what replaces it', async () => {
	const note = page.locator('#account-key-note');
	assert(await note.isVisible(), 'no note about the account key');
	const text = (await note.textContent()).replace(/\s+/g, ' ');
	assert(/Chat account key/.test(text) && /Not needed/.test(text), 'note: ' + text);
	assert(/messaging API key/.test(text) && /API token/.test(text), 'note does not name what replaces it: ' + text);
	const noteY = await top('#account-key-note');
	assert(noteY > await top('#subdomain') && noteY < await top('#app-id'), 'the note is not beside the subdomain');
	assert(await page.locator('[data-secret="zendesk.account_key"]').count() === 0, 'the form still asks for it');
});

await check('"Allow transfers to live agents" toggles with the keyboard (Space)', async () => {
	const sw = page.getByRole('switch', { name: 'Allow transfers to live agents' });
	assert(!(await sw.isChecked()), 'transfers are on before the admin turned them on');
	await sw.focus();
	await page.keyboard.press('Space');
	assert(await sw.isChecked(), 'Space did not turn the switch on');
	const status = await page.textContent('#save-status');
	assert(/unsaved/i.test(status), 'no unsaved-changes hint: ' + status);
});

await check('the Zendesk, security and transfer sections save', async () => {
	await page.fill('#join-timeout', '120');
	await page.fill('#department', 'Support Tier 1');
	await page.fill('#subdomain', 'acme-support');
	await page.fill('#app-id', APP_ID);
	await page.fill('#key-id', KEY_ID);
	await page.fill('#api-user', API_USER);
	await page.fill('#jwt-key-id', JWT_KEY_ID);
	for (const [field, value] of Object.entries(SECRETS)) await secretInput(field).fill(value);
	await page.getByRole('switch', { name: 'Authenticate users' }).check();
	await page.fill('#new-key-kid', 'site-1');
	await page.fill('#new-key-pem', SITE_PEM);
	await page.fill('#issuer', 'https://shop.example');
	await page.getByRole('switch', { name: 'Authenticate anonymous user chat transfers' }).check();
	await page.click('details.advanced > summary');
	await page.fill('#api-base', ZENDESK_BASE);
	await saveAndWait();
	const status = await page.textContent('#save-status');
	assert(/^Saved at/.test(status), 'save status: ' + status + ' / ' + await page.textContent('#form-error'));
	const c = await apiConfig();
	assert(c.transfers_enabled === true, 'transfers_enabled not saved');
	assert(c.transfers.join_timeout_s === 120 && c.transfers.department === 'Support Tier 1', 'transfers not saved');
	assert(c.zendesk.subdomain === 'acme-support' && c.zendesk.messaging.app_id === APP_ID, 'zendesk not saved');
	assert(c.zendesk.messaging.jwt_key_id === JWT_KEY_ID, 'jwt_key_id not saved: ' + c.zendesk.messaging.jwt_key_id);
	assert(c.zendesk.messaging.key_secret_set && c.zendesk.api_token_set && c.zendesk.shared_secret_set &&
		c.zendesk.messaging.webhook_secret_set, 'a secret was not saved');
	assert(c.security.authenticate_users && c.security.allow_anonymous_transfers, 'security switches not saved');
	assert(c.security.site_public_keys.length === 1 && c.security.site_public_keys[0].kid === 'site-1',
		'site key not saved: ' + JSON.stringify(c.security.site_public_keys));
	assert(c.zendesk.api_base === ZENDESK_BASE, 'api_base not saved');
});

await check('a pasted Zendesk address becomes its subdomain in the form, and saves as it', async () => {
	await page.fill('#subdomain', 'https://Acme-Support.zendesk.com/agent/dashboard');
	await page.press('#subdomain', 'Tab');
	assert(await page.inputValue('#subdomain') === 'acme-support', 'form value: ' + await page.inputValue('#subdomain'));
	await page.fill('#subdomain', 'acme-support.zendesk.com');
	await page.press('#subdomain', 'Tab');
	assert(await page.inputValue('#subdomain') === 'acme-support', 'form value: ' + await page.inputValue('#subdomain'));
	await saveAndWait();
	const c = await apiConfig();
	assert(c.zendesk.subdomain === 'acme-support', 'saved: ' + c.zendesk.subdomain);
	assert(c.zendesk.messaging.key_secret_set, 'the same subdomain cleared the key secret');
});

await check('after a reload (the session kept) the values are there and secrets show as "set"', async () => {
	await page.reload();
	await formShown();
	const v = async (sel) => page.inputValue(sel);
	assert(await v('#subdomain') === 'acme-support', 'subdomain');
	assert(await v('#app-id') === APP_ID && await v('#key-id') === KEY_ID, 'messaging ids');
	assert(await v('#api-user') === API_USER, 'api user');
	assert(await v('#jwt-key-id') === JWT_KEY_ID, 'messaging JWT key ID');
	assert(await v('#join-timeout') === '120' && await v('#department') === 'Support Tier 1', 'transfers');
	assert(await v('#issuer') === 'https://shop.example', 'issuer');
	assert(await page.isChecked('#transfers-enabled'), 'Allow transfers is off');
	assert(await page.isChecked('#authenticate-users') && await page.isChecked('#allow-anonymous'), 'security switches');
	for (const field of Object.keys(SECRETS)) {
		const b = (await badge(field).textContent()).trim();
		assert(b === 'set', `${field} shows "${b}"`);
		assert(await secretInput(field).inputValue() === '', `${field}'s replace field is not empty`);
	}
	const keys = await page.textContent('#site-keys');
	assert(keys.includes('site-1') && keys.includes('2048'), 'site key list: ' + keys);
});

await check('the messaging JWT key ID sits beside the shared secret, and both say where they come from', async () => {
	const keyBox = await page.locator('#jwt-key-id').locator('xpath=ancestor::div[contains(@class,"field")][1]').boundingBox();
	const secretBox = await page.locator('[data-secret-field="zendesk.shared_secret"]').boundingBox();
	assert(Math.abs(keyBox.y - secretBox.y) < 2 && keyBox.x + keyBox.width <= secretBox.x,
		'not side by side: ' + JSON.stringify({ keyBox, secretBox }));
	const label = await page.textContent('label[for="jwt-key-id"]');
	assert(/Messaging JWT key ID/i.test(label), 'label: ' + label);
	const help = await page.evaluate(() => document.querySelector('#jwt-key-id').getAttribute('aria-describedby')
		.split(' ').map((id) => document.getElementById(id).textContent).join(' '));
	assert(/key ID of the messaging signing key/.test(help) && /End user authentication/.test(help), 'help: ' + help);
	const group = await page.textContent('#jwt-key-id >> xpath=ancestor::fieldset[1]');
	assert(/Admin Center/.test(group) && /Account/.test(group) && /Security/.test(group) && /Messaging/.test(group),
		'no Admin Center path: ' + group);
	const secretHelp = await page.textContent('[data-secret-field="zendesk.shared_secret"] .help');
	assert(/signing key's secret/.test(secretHelp), 'shared secret help: ' + secretHelp);
});

await check('an invalid messaging JWT key ID shows the API\'s message beside that field', async () => {
	await page.fill('#jwt-key-id', 'paste of the shared secret');
	await saveAndWait();
	const err = errorFor('zendesk.messaging.jwt_key_id');
	assert(await err.isVisible(), 'no error beside the key ID; form error: ' + await page.textContent('#form-error'));
	const text = await err.textContent();
	assert(/app_/.test(text), 'message: ' + text);
	assert(await page.getAttribute('#jwt-key-id', 'aria-invalid') === 'true', 'field not marked invalid');
	assert((await apiConfig()).zendesk.messaging.jwt_key_id === JWT_KEY_ID, 'the invalid value was saved');
	await page.fill('#jwt-key-id', JWT_KEY_ID);
	await saveAndWait();
	assert(!(await err.isVisible()), 'the error stays after fixing the field');
});

await check('no secret value appears anywhere in the page', async () => {
	const text = await domText();
	for (const [field, value] of Object.entries(SECRETS))
		assert(!text.includes(value), `${field}'s value is in the page`);
});

await check('"Access account" names the credential Zendesk rejected', async () => {
	await secretInput('zendesk.api_token').fill('wrong-token');
	await page.click('#verify');
	const out = page.locator('#verify-result.bad');
	await out.waitFor({ state: 'visible' });
	const text = await out.textContent();
	assert(/API token/i.test(text), 'result: ' + text);
	assert(await secretInput('zendesk.api_token').inputValue() === '', 'the replaced token is still in its field');
	const token = page.locator('#verify-checks li[data-check="support_token"]');
	assert(await token.isVisible(), 'no support_token line: ' + await page.textContent('#verify-checks'));
	assert(await token.getAttribute('class') === 'check-failed' &&
		(await token.locator('.check-mark').textContent()) === '\u2717', 'support_token not marked failed');
	const key = page.locator('#verify-checks li[data-check="messaging_key"]');
	assert(await key.getAttribute('class') === 'check-ok' &&
		(await key.locator('.check-mark').textContent()) === '\u2713', 'messaging_key not marked ok');
});

await check('"Access account" puts a failed check beside its field and in the status panel\'s last Zendesk error', async () => {
	const err = errorFor('zendesk.api_token');
	assert(await err.isVisible(), 'no error beside the API token');
	assert(/API token/.test(await err.textContent()), 'beside the token: ' + await err.textContent());
	assert(await secretInput('zendesk.api_token').getAttribute('aria-invalid') === 'true', 'token not marked invalid');
	assert(!(await errorFor('zendesk.messaging.key_secret').isVisible()), 'the passing messaging key is marked');
	assert(!(await errorFor('zendesk.messaging.webhook_secret').isVisible()), 'the webhook is marked');
	await page.locator('#stat-last-checks li[data-check="support_token"]').waitFor();
	const row = await page.textContent('#stat-last-checks-row');
	assert(/Failed checks/.test(row) && /API token/.test(row), 'status panel: ' + row);
	assert(await page.locator('#stat-last-checks li').count() === 1, 'passing checks listed as failed');
	assert(/rejected the API token/.test(await page.textContent('#stat-last-error')), 'last error: ' +
		await page.textContent('#stat-last-error'));
	await err.scrollIntoViewIfNeeded();
	await page.screenshot({ path: path.join(OUT, 'setup-verify-error.png') });
});

await check('"Access account" shows the live result from Zendesk', async () => {
	const before = (await zendeskCalls()).length;
	// Back to the right token: "Access account" saves it before it checks.
	await secretInput('zendesk.api_token').fill(SECRETS['zendesk.api_token']);
	await page.click('#verify');
	const out = page.locator('#verify-result.good, #verify-result.bad');
	await out.waitFor({ state: 'visible' });
	const text = await out.textContent();
	assert(await page.locator('#verify-result.good').count() === 1, 'verify failed: ' + text);
	assert(/2 agents are online/.test(text), 'result: ' + text);
	const calls = (await zendeskCalls()).slice(before);
	assert(calls.some((c) => c.path === '/sc/v2/apps/' + APP_ID), 'Zendesk was not called: ' + JSON.stringify(calls));
	const lines = await page.$$eval('#verify-checks li', (lis) => lis.map((li) => ({
		name: li.dataset.check, cls: li.className, mark: li.querySelector('.check-mark').textContent,
		message: (li.querySelector('.check-message') || {}).textContent || '' })));
	assert(lines.map((l) => l.name).join() === 'messaging_key,support_token,agent_workspace,webhook_integration',
		'checks: ' + JSON.stringify(lines));
	assert(lines.every((l) => l.cls === 'check-ok' && l.mark === '\u2713' && /^Zendesk |^The |^deskbridge/.test(l.message)),
		'a check is not shown as passed with its message: ' + JSON.stringify(lines));
	await page.locator('#stat-verified time').waitFor();
	await page.locator('#stat-last-checks-row').waitFor({ state: 'hidden' });
	assert(!(await errorFor('zendesk.api_token').isVisible()), 'the token\'s error stays after it passed');
});

await check('an invalid join timeout shows the API\'s message beside that field', async () => {
	await page.fill('#join-timeout', '5');
	await saveAndWait();
	const err = errorFor('transfers.join_timeout_s');
	assert(await err.isVisible(), 'no error beside transfers.join_timeout_s; form error: ' +
		await page.textContent('#form-error'));
	const text = await err.textContent();
	assert(/30/.test(text) && /86400/.test(text), 'message: ' + text);
	assert(await page.getAttribute('#join-timeout', 'aria-invalid') === 'true', 'field not marked invalid');
	assert((await page.evaluate(() => document.activeElement.id)) === 'join-timeout', 'focus not on the field');
	const c = await apiConfig();
	assert(c.transfers.join_timeout_s === 120, 'the invalid value was saved');
	await page.fill('#join-timeout', '120');
});

await check('a refusal names the field by its label, and the save bar points up to it and scrolls there', async () => {
	await page.click('#save');
	await page.fill('#idle-timeout', '5');
	await page.evaluate(() => window.scrollTo(0, 0));
	await saveAndWait();
	const text = (await errorFor('transfers.idle_timeout_s').textContent()).trim();
	assert(/^End an idle chat after \(seconds\): must be an integer from 30 to 86400\.$/.test(text), 'message: ' + text);
	assert(!/transfers\.|idle_timeout/.test(await page.textContent('#config-form')), 'an internal key is shown');
	const status = await page.textContent('#save-status');
	assert(/marked above/.test(status) && !/below/.test(status), 'save bar: ' + status);
	assert(await inViewport('#idle-timeout'), 'the field was not scrolled into view');
	await page.screenshot({ path: path.join(OUT, 'setup-field-error.png') });
	await page.fill('#idle-timeout', '1800');
	await saveAndWait();
});

await check('an emptied number field saves as its default and says which; later saves still work', async () => {
	const help = await page.textContent('#join-timeout ~ .help');
	assert(/empty for the default, 300/.test(help), 'help does not name the default: ' + help);
	await page.fill('#join-timeout', '');
	await saveAndWait();
	const status = await page.textContent('#save-status');
	assert(/^Saved at/.test(status) && /Wait for an agent \(seconds\) is back to its default, 300\./.test(status),
		'save bar: ' + status + ' / ' + await page.textContent('#form-error'));
	assert(await page.inputValue('#join-timeout') === '300', 'field shows ' + await page.inputValue('#join-timeout'));
	assert((await apiConfig()).transfers.join_timeout_s === 300, 'not back to the default');
	await page.screenshot({ path: path.join(OUT, 'setup-default.png') });
	await page.fill('#department', 'Support Tier 2');
	await saveAndWait();
	assert(/^Saved at/.test(await page.textContent('#save-status')), 'a later save is blocked');
	await page.fill('#join-timeout', '');
	await page.keyboard.press('Tab');
	await page.click('#limit-token').catch(() => {});
	await page.click('details.advanced > summary');
	await page.click('#limit-token');
	await page.keyboard.type('1e');
	await saveAndWait();
	const err = (await errorFor('limits.token_per_minute').textContent()).trim();
	assert(/^Tokens per minute: enter a whole number/.test(err), 'not-a-number error: ' + err);
	assert((await apiConfig()).limits.token_per_minute === 60, 'a non-number was saved');
	await page.fill('#limit-token', '60');
	await page.fill('#join-timeout', '120');
	await saveAndWait();
	assert((await apiConfig()).transfers.join_timeout_s === 120, 'join timeout not saved back');
});

await check('the largest file a visitor may send is set under Advanced, within 1 to 50000000, empty for its default', async () => {
	if (!(await page.locator('details.advanced').evaluate((d) => d.open)))
		await page.click('details.advanced > summary');
	const help = await page.textContent('#limit-file-bytes ~ .help');
	assert(/50000000/.test(help) && /empty for the default, 10485760\./.test(help), 'help: ' + help);
	assert(await page.inputValue('#limit-file-bytes') === '10485760', 'field shows ' + await page.inputValue('#limit-file-bytes'));
	await page.fill('#limit-file-bytes', '50000001');
	await saveAndWait();
	const err = (await errorFor('limits.file_upload_bytes').textContent()).trim();
	assert(/^Largest file a visitor may send \(bytes\): must be an integer from 1 to 50000000\.$/.test(err), 'message: ' + err);
	assert(await page.getAttribute('#limit-file-bytes', 'aria-invalid') === 'true', 'field not marked invalid');
	assert((await apiConfig()).limits.file_upload_bytes === 10485760, 'the invalid value was saved');
	await page.fill('#limit-file-bytes', '20000000');
	await saveAndWait();
	assert((await apiConfig()).limits.file_upload_bytes === 20000000, 'not saved');
	await page.fill('#limit-file-bytes', '');
	await saveAndWait();
	const status = await page.textContent('#save-status');
	assert(/Largest file a visitor may send \(bytes\) is back to its default, 10485760\./.test(status), 'save bar: ' + status);
	assert((await apiConfig()).limits.file_upload_bytes === 10485760, 'not back to the default');
});

await check('an invalid site public key PEM shows the API\'s message beside the keys', async () => {
	await page.fill('#new-key-kid', 'site-2');
	await page.fill('#new-key-pem', '-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n');
	await saveAndWait();
	const err = errorFor('security.site_public_keys');
	assert(await err.isVisible(), 'no error beside the site keys; form error: ' + await page.textContent('#form-error'));
	const text = await err.textContent();
	assert(/RSA public key/.test(text), 'message: ' + text);
	assert(!(await errorFor('transfers.join_timeout_s').isVisible()), 'the old error is still shown');
	await page.fill('#new-key-kid', '');
	await page.fill('#new-key-pem', '');
	await saveAndWait();
	assert(!(await err.isVisible()), 'the error stays after fixing the field');
	const c = await apiConfig();
	assert(c.security.site_public_keys.length === 1, 'site keys changed: ' + c.security.site_public_keys.length);
});

await check('an avatar upload shows the preview', async () => {
	await page.setInputFiles('#avatar-file', { name: 'agent.png', mimeType: 'image/png', buffer: png(40, 40) });
	await page.locator('#avatar-preview').waitFor({ state: 'visible' });
	await page.waitForFunction(() => document.querySelector('#avatar-preview').naturalWidth === 40);
	assert(await page.isVisible('#avatar-remove'), 'no remove button');
	assert(!(await errorFor('avatar').isVisible()), 'an error is shown: ' + await errorFor('avatar').textContent());
});

await check('an avatar over 50 x 50 pixels shows the limit', async () => {
	const limits = await page.textContent('#avatar-limits');
	assert(/100 KiB/.test(limits) && /50/.test(limits), 'limits not shown: ' + limits);
	await page.setInputFiles('#avatar-file', { name: 'big.png', mimeType: 'image/png', buffer: png(60, 60) });
	const err = errorFor('avatar');
	await err.waitFor({ state: 'visible' });
	const text = await err.textContent();
	assert(/50/.test(text), 'message: ' + text);
	assert(await page.isVisible('#avatar-preview'), 'the previous avatar disappeared');
});

let appCredentials = '';
await check('app credentials are generated and shown with a copy button', async () => {
	await page.click('#app-creds-generate');
	await page.locator('#app-creds-box').waitFor({ state: 'visible' });
	appCredentials = await page.inputValue('#app-creds');
	assert(appCredentials.length >= 16, 'credentials: ' + appCredentials);
	assert(await page.isVisible('#app-creds-copy'), 'no copy button');
	await page.click('#app-creds-copy');
	await page.locator('#app-creds-status').filter({ hasText: /Copied|copy/ }).waitFor();
});

await check('the private app ZIP is refused without deskbridge\'s public address, saying why beside that field', async () => {
	assert((await apiConfig()).deployment.public_url === null, 'a public address is already set');
	let downloaded = false;
	const onDownload = () => { downloaded = true; };
	page.on('download', onDownload);
	await page.click('#app-zip');
	const err = errorFor('deployment.public_url');
	await err.waitFor({ state: 'visible' });
	const text = await err.textContent();
	assert(/public address/.test(text) && /https:\/\//.test(text), 'message: ' + text);
	assert(!/deployment\./.test(text), 'internal key in the message: ' + text);
	await page.waitForTimeout(300);
	page.off('download', onDownload);
	assert(!downloaded, 'an error was downloaded as a file');
	await page.screenshot({ path: path.join(OUT, 'setup-zip-refused.png') });
	const label = (await page.textContent('label[for="public-url"]')).trim();
	assert(label === 'deskbridge\'s public address', 'label: ' + label);
});

await check('the private app ZIP downloads', async () => {
	await page.fill('#public-url', PUBLIC_URL);
	const [download] = await Promise.all([page.waitForEvent('download'), page.click('#app-zip')]);
	const file = await download.path();
	const data = readFileSync(file);
	assert(data.length > 100, 'download is ' + data.length + ' bytes');
	assert(data.subarray(0, 2).toString('latin1') === 'PK', 'not a ZIP: ' + data.subarray(0, 16).toString('hex'));
	assert(/\.zip$/.test(download.suggestedFilename()), 'file name: ' + download.suggestedFilename());
	assert((await apiConfig()).deployment.public_url === PUBLIC_URL, 'the public address was not saved first');
	assert(data.includes(Buffer.from('manifest.json')), 'no manifest in the ZIP');
	assert(await page.textContent('#webhook-url') === PUBLIC_URL + '/api/zendesk/webhook',
		'webhook address: ' + await page.textContent('#webhook-url'));
});

await check('the status panel shows transfer counts and recent changes', async () => {
	await page.click('#status-refresh');
	await page.waitForFunction(() => document.querySelector('#audit-list').children.length > 0);
	for (const id of ['#stat-waiting', '#stat-active', '#stat-ended', '#stat-undelivered', '#stat-schema'])
		assert(/^\d+$/.test((await page.textContent(id)).trim()), id + ': ' + await page.textContent(id));
	const audit = await page.textContent('#audit-list');
	assert(/transfers/.test(audit), 'recent changes: ' + audit);
	assert(!Object.values(SECRETS).some((s) => audit.includes(s)), 'a secret is in the recent changes');
	const lastError = await page.textContent('#stat-last-error');
	assert(lastError.trim().length > 0, 'last Zendesk error is empty');
});

await check('the status panel says no webhook has arrived yet, and that no transfer was handed over', async () => {
	await page.locator('#stat-webhook-row').waitFor({ state: 'visible' });
	const webhook = await page.textContent('#stat-webhook');
	assert(/^never — agent replies are not reaching deskbridge yet; check the webhook in Admin Center$/.test(webhook),
		'last webhook: ' + webhook);
	assert(/Last webhook from Zendesk/.test(await page.textContent('#stat-webhook-row dt')), 'no label');
	assert(/^never$/.test(await page.textContent('#stat-handoff')), 'last handoff: ' + await page.textContent('#stat-handoff'));
});

await check('a full-page screenshot of the filled-in form is written', async () => {
	mkdirSync(OUT, { recursive: true });
	const file = path.join(OUT, 'setup-filled.png');
	await page.screenshot({ path: file, fullPage: true });
	assert(readFileSync(file).length > 10000, 'screenshot too small');
});

await check('the form fits a 375 px wide screen (no horizontal scroll)', async () => {
	await page.setViewportSize({ width: 375, height: 800 });
	await page.waitForTimeout(100);
	const w = await page.evaluate(() => document.scrollingElement.scrollWidth);
	assert(w <= 375, 'scrollWidth ' + w);
	await page.screenshot({ path: path.join(OUT, 'setup-phone.png'), fullPage: true });
	await page.setViewportSize({ width: 1280, height: 900 });
});

await check('the status panel shows the last webhook and handoff times, and hides what an older server lacks', async () => {
	let body = { transfers: { waiting: 0, active: 1, ended: 2 }, undelivered_messages: 0, last_zendesk_error: null,
		schema_version: 4, last_webhook_at: '2026-11-24T10:00:00Z', last_handoff_at: '2026-11-24T09:58:00Z' };
	await page.route('**/api/setup/status', (route) => route.fulfill({
		status: 200, contentType: 'application/json', body: JSON.stringify(body) }));
	try {
		await page.click('#status-refresh');
		await page.locator('#stat-webhook time').waitFor();
		assert(await page.getAttribute('#stat-webhook time', 'datetime') === '2026-11-24T10:00:00Z', 'webhook time');
		assert(await page.getAttribute('#stat-handoff time', 'datetime') === '2026-11-24T09:58:00Z', 'handoff time');
		assert(!(await page.getAttribute('#stat-webhook', 'class') || '').includes('bad-text'), 'a time shown as bad');
		body = { transfers: { waiting: 0, active: 1, ended: 2 }, undelivered_messages: 0, last_zendesk_error: null,
			schema_version: 4 };
		await page.click('#status-refresh');
		await page.locator('#stat-webhook-row').waitFor({ state: 'hidden' });
		assert(await page.isHidden('#stat-handoff-row'), 'handoff row shown without the field');
		assert((await page.textContent('#stat-active')).trim() === '1', 'counts not shown');
	} finally {
		await page.unroute('**/api/setup/status');
	}
	await page.click('#status-refresh');
	await page.locator('#stat-webhook-row').waitFor({ state: 'visible' });
});

await check('"Access account" from an older server (no checks) shows only its result', async () => {
	let reply = { status: 200, body: { verified: true, agents_online: 1 } };
	await page.route('**/api/setup/zendesk/verify', (route) => route.fulfill({
		status: reply.status, contentType: 'application/json', body: JSON.stringify(reply.body) }));
	try {
		await page.click('#verify');
		await page.locator('#verify-result.good').waitFor();
		assert(/1 agent is online/.test(await page.textContent('#verify-result')), 'result');
		assert(await page.isHidden('#verify-checks'), 'a check list without checks');
		reply = { status: 502, body: { error: { code: 'zendesk_rejected_credentials',
			message: 'Zendesk rejected the messaging API key.' } } };
		await page.click('#verify');
		await page.locator('#verify-result.bad').waitFor();
		assert(/rejected the messaging API key/.test(await page.textContent('#verify-result')), 'error result');
		assert(await page.isHidden('#verify-checks'), 'a check list without checks');
		reply = { status: 502, body: { error: { code: 'zendesk_setup_incomplete', message: 'Add the webhook.',
			checks: [{ name: 'messaging_key', ok: true, message: 'The key works.' },
				{ name: 'webhook_integration', ok: false, message: 'Add the webhook.' }, 'junk'] } } };
		await page.click('#verify');
		await page.locator('#verify-checks li').first().waitFor();
		const lines = await page.$$eval('#verify-checks li', (lis) => lis.map((li) => li.className));
		assert(lines.join() === 'check-ok,check-failed', 'checks: ' + lines.join());
	} finally {
		await page.unroute('**/api/setup/zendesk/verify');
	}
});

await check('the Zendesk shared secret and the messaging JWT key ID sit right under "Authenticate users"', async () => {
	const sw = await page.locator('#authenticate-users').locator('xpath=ancestor::div[contains(@class,"switch-row")][1]').boundingBox();
	const group = await page.locator('#auth-keys').boundingBox();
	assert(group.y >= sw.y + sw.height && group.y - (sw.y + sw.height) < 80, 'not beside the switch: ' +
		JSON.stringify({ sw, group }));
	const same = await page.evaluate(() => document.querySelector('#authenticate-users').closest('section') ===
		document.querySelector('[data-secret-field="zendesk.shared_secret"]').closest('section') &&
		document.querySelector('#jwt-key-id').closest('#auth-keys') !== null);
	assert(same, 'the fields are not in the "Authenticate users" section');
	assert(/Zendesk shared secret/.test(await page.textContent('label[for="shared-secret"]')), 'label');
});

await check('"Authenticate anonymous user chat transfers" is disabled, with the reason, while "Authenticate users" is off', async () => {
	const auth = page.getByRole('switch', { name: 'Authenticate users' });
	const anon = page.locator('#allow-anonymous');
	assert(await auth.isChecked() && await anon.isEnabled(), 'starts off or disabled');
	assert(await page.isHidden('#anonymous-reason'), 'reason shown while it applies');
	await auth.uncheck();
	assert(await anon.isDisabled(), 'still enabled');
	const reason = page.locator('#anonymous-reason');
	assert(await reason.isVisible() && /Turn on Authenticate users first/.test(await reason.textContent()), 'no reason');
	const described = await anon.getAttribute('aria-describedby');
	assert(described.split(' ').includes('anonymous-reason'), 'reason not announced: ' + described);
	await page.locator('#allow-anonymous').scrollIntoViewIfNeeded();
	await page.screenshot({ path: path.join(OUT, 'setup-security.png') });
	await auth.check();
	assert(await anon.isEnabled() && await reason.isHidden(), 'not enabled again');
});

await check('turning "Authenticate users" on with no site public key warns before saving', async () => {
	page.off('dialog', acceptDialog);
	let asked = '';
	const dismiss = (d) => { asked = d.message(); d.dismiss(); };
	page.on('dialog', dismiss);
	try {
		await page.getByRole('switch', { name: 'Authenticate users' }).uncheck();
		await saveAndWait();
		await page.click('#site-keys .key-item button');
		assert(await page.isHidden('#auth-no-keys'), 'warned while off');
		await page.getByRole('switch', { name: 'Authenticate users' }).check();
		const warning = page.locator('#auth-no-keys');
		assert(await warning.isVisible() && /no site public key/.test((await warning.textContent()).replace(/\s+/g, ' ')),
			'no warning shown');
		await page.click('#save');
		await page.waitForFunction(() => /Nothing was saved/.test(document.querySelector('#save-status').textContent));
		assert(/no site public key/.test(asked), 'no confirmation asked: ' + asked);
		const c = await apiConfig();
		assert(c.security.authenticate_users === false && c.security.site_public_keys.length === 1, 'saved anyway');
	} finally {
		page.off('dialog', dismiss);
		page.on('dialog', acceptDialog);
	}
});

await check('"Try a transfer" opens the demo chat', async () => {
	const link = page.locator('#try-transfer');
	assert(await link.getAttribute('href') === '/webchat/demo.html', 'href');
	assert(await link.getAttribute('target') === '_blank', 'not a new tab');
	const [demo] = await Promise.all([context.waitForEvent('page'), link.click()]);
	await demo.waitForLoadState();
	assert(new URL(demo.url()).pathname === '/webchat/demo.html', 'opened ' + demo.url());
	assert((await demo.title()).length > 0, 'the demo page has no title');
	await demo.close();
});

await check('app credentials are not shown again after a reload', async () => {
	await page.reload();
	await formShown();
	assert(await page.isHidden('#app-creds-box'), 'credentials box shown');
	assert(!(await domText()).includes(appCredentials), 'credentials are in the page');
	const state = await page.textContent('#app-creds-state');
	assert(/exist/.test(state), 'state: ' + state);
	assert(/new/i.test(await page.textContent('#app-creds-generate')), 'button does not say "new"');
});

await check('log out ends the session', async () => {
	await page.click('#logout');
	await page.locator('#login-view').waitFor({ state: 'visible' });
	const status = await page.evaluate(() => fetch('/api/setup/config').then((r) => r.status));
	assert(status === 401, 'config after logout: ' + status);
});

await check('the login page fits a 375 px wide screen', async () => {
	await page.setViewportSize({ width: 375, height: 700 });
	const w = await page.evaluate(() => document.scrollingElement.scrollWidth);
	assert(w <= 375, 'scrollWidth ' + w);
});

await check('no CSP violation or script error happened', async () => {
	assert(pageProblems.length === 0, pageProblems.join('\n'));
});

await browser.close();
done();
