// tests/browser/cross_origin.mjs — the demo chat served from another origin than
// deskbridge's, in Debian's chromium: from an origin in security.allowed_origins a whole
// handoff runs through the library's cross-origin calls; from one not listed, the
// library's calls fail and nothing is made. Run by tests/integration/test_cors_browser.py,
// which starts deskbridge over TLS, the fake Zendesk and the two sites (SITE_URL,
// OTHER_SITE_URL), each serving a copy of /webchat/ whose demo names deskbridge.
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';
import { BASE, FAKE, adminSession, agent, agentWorkspaceId, configure, conversation, conversations, json,
	leftNothingOpen, visitorTexts } from '../webchat/deskbridge-env.mjs';

const SITE = process.env.SITE_URL;
const OTHER = process.env.OTHER_SITE_URL;

const texts = (page, kind) => page.$$eval(`#messages .msg.${kind} .text`, (els) => els.map((e) => e.textContent));
async function say(page, text) {
	await page.fill('#input', text);
	await page.press('#input', 'Enter');
}
async function shows(page, kind, text) {
	await waitUntil(`${kind} message "${text}" shown`, async () => (await texts(page, kind)).includes(text));
}
const transfersMade = async () => {
	const r = await json('GET', BASE + '/api/setup/status', undefined, await adminSession());
	assert(r.status === 200, 'status: ' + r.status);
	return r.body;
};

if (!BASE || !FAKE || !SITE || !OTHER)
	bail('DESKBRIDGE_BASE_URL, FAKE_ZENDESK_URL, SITE_URL and OTHER_SITE_URL are set',
		new Error('run me through tests/integration/test_cors_browser.py'));
let browser;
try {
	await configure();
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge and launch chromium', e);
}
// The sites and deskbridge share a certificate made for the test.
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
watchProblems(page, problems);
const calls = [];
page.on('request', (r) => { if (r.url().startsWith(BASE)) calls.push(r.method() + ' ' + new URL(r.url()).pathname); });
let cid, transfer;

async function saveForm(admin) {
	await admin.click('#save');
	await admin.waitForFunction(() => /^Saved at/.test(document.querySelector('#save-status').textContent) ||
		[...document.querySelectorAll('[data-error-for]')].some((e) => !e.hidden));
}

await check('the admin lists the site in the setup form: an http origin is refused by its label, the https one saved', async () => {
	const admin = await context.newPage();
	await admin.goto(BASE + '/setup/');
	await admin.fill('#login-password', process.env.DESKBRIDGE_ADMIN_PASSWORD);
	await admin.press('#login-password', 'Enter');
	await admin.waitForFunction(() => document.querySelector('#service-key').value.includes('BEGIN PUBLIC KEY'));
	await admin.fill('#allowed-origins', SITE.replace('https:', 'http:'));
	await saveForm(admin);
	const why = (await admin.locator('[data-error-for="security.allowed_origins"]').textContent()).trim();
	assert(/^Sites on other origins: must be https:\/\//.test(why), 'refusal: ' + why);
	await admin.fill('#allowed-origins', SITE);
	await saveForm(admin);
	const saved = await admin.evaluate(() => fetch('/api/setup/config').then((r) => r.json()));
	assert(saved.security.allowed_origins === SITE, 'stored: ' + saved.security.allowed_origins);
	await admin.close();
});

await check('the demo on the listed site greets the visitor and asks deskbridge, on another origin, for agents', async () => {
	const res = await page.goto(SITE + '/demo.html');
	assert(res.status() === 200, 'status ' + res.status());
	assert(new URL(SITE).origin !== new URL(BASE).origin, 'the site is deskbridge itself');
	await shows(page, 'bot', "Hi! I'm the demo bot. Type 'agent' to talk to a person.");
});

await check('asking for an agent there hands the conversation over to the agent workspace', async () => {
	await say(page, 'Where is my parcel?');
	await say(page, 'agent please');
	const workspace = await agentWorkspaceId();
	const conv = await waitUntil('a conversation passed to the agent workspace',
		async () => (await conversations()).find((c) => c.control === workspace));
	cid = conv.id;
	const all = conv.messages.map((m) => m.content.text);
	assert(all.includes('Where is my parcel?'), 'history: ' + JSON.stringify(all));
	transfer = JSON.parse(await page.evaluate(() => sessionStorage.getItem('deskbridge.transfer')));
	assert(transfer && transfer.secret, 'no transfer in the site\'s sessionStorage');
	assert(conv.metadata.deskbridge_transfer_id === transfer.id, JSON.stringify(conv.metadata));
	assert(calls.includes('POST /api/transfers'), 'calls: ' + calls.join(', '));
});

await check('messages go both ways across the origins, with the agent joining and reading', async () => {
	await agent(cid, 'accept');
	await agent(cid, 'says', { text: 'Hi, I am Ana, from far away.' });
	await shows(page, 'agent', 'Hi, I am Ana, from far away.');
	await shows(page, 'status', 'Ana joined the chat.');
	await say(page, 'Hello Ana');
	await waitUntil('the visitor\'s message in Zendesk', async () => visitorTexts(await conversation(cid)).includes('Hello Ana'));
	await agent(cid, 'read');
	await waitUntil('Seen', async () =>
		(await page.$$eval('#messages .msg.user .state', (els) => els.map((e) => e.textContent))).includes('Seen'));
	// Polls with If-None-Match (a preflighted header) and reading ETag (an exposed one).
	assert(calls.filter((c) => /\/events$/.test(c)).length >= 2, 'polls: ' + calls.join(', '));
});

await check('End chat ends the transfer on deskbridge and in Zendesk', async () => {
	await page.click('#end');
	await shows(page, 'status', 'You ended the chat.');
	await leftNothingOpen(transfer);
	console.log(`# the listed site's page made ${calls.length} requests to deskbridge (preflights not counted)`);
});

await check('no CSP violation, CORS refusal or script error happened on the listed site', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await check('the demo on a site not listed cannot start a transfer: the library fails and nothing is made', async () => {
	const before = await transfersMade();
	const conversationsBefore = (await conversations()).length;
	const other = await context.newPage();
	const refused = [];
	other.on('console', (msg) => { if (/CORS|Access-Control/.test(msg.text())) refused.push(msg.text()); });
	const res = await other.goto(OTHER + '/demo.html');
	assert(res.status() === 200, 'status ' + res.status());
	await shows(other, 'bot', "Hi! I'm the demo bot. Type 'agent' to talk to a person.");
	await say(other, 'agent please');
	await waitUntil('the visitor told the chat could not start', async () =>
		(await texts(other, 'bot')).some((t) => /could not connect you/.test(t)), 30000);
	assert(await other.evaluate(() => sessionStorage.getItem('deskbridge.transfer')) === null, 'a transfer kept');
	assert(refused.length > 0, 'the browser reported no CORS refusal');
	const after = await transfersMade();
	assert(JSON.stringify(after.transfers) === JSON.stringify(before.transfers),
		'transfers: ' + JSON.stringify(before.transfers) + ' then ' + JSON.stringify(after.transfers));
	assert((await conversations()).length === conversationsBefore, 'a conversation was made in Zendesk');
	await other.close();
});

await browser.close();
done();
