// tests/browser/visitor_experience.test.mjs — what a visitor sees in the demo chat
// (/webchat/demo.html, through deskbridge-webchat.js) in Debian's chromium, against the
// real deskbridge and the fake Zendesk, both started by run_browser_tests.py: plain words
// instead of the API's, the admin's own message whenever no agent is available, the
// admin's avatar for an agent Zendesk gives none, the agent's name while they type, and
// events in the order they happened. Each case leaves a screenshot in BROWSER_OUTPUT_DIR.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';
import { BASE, FAKE, adminSession, agent, configure, conversationOf, json, patchConfig } from '../webchat/deskbridge-env.mjs';

const OUT = process.env.BROWSER_OUTPUT_DIR;
const CLOSED = 'Our team is away today. Write to help@shop.example and we will answer tomorrow.';
/* A 32 x 32 PNG (tests/integration/images.py's png(32, 32)). */
const AVATAR_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAAAKklEQVR4nGOQj19HU8QwasGoBaMWjFowasGoBaMW' +
	'jFowasGoBaMWDBULAHpWsD0lnU+FAAAAAElFTkSuQmCC', 'base64');
/* What no visitor text may contain: the API's and the admin's words. */
const DEVELOPER_WORDS = /Reason:|admin|Field "|token|transfers_enabled|deskbridge|Zendesk|not_configured/i;

if (!BASE || !FAKE)
	bail('DESKBRIDGE_BASE_URL and FAKE_ZENDESK_URL are set', new Error('run me through run_browser_tests.py'));
let browser;
try {
	await configure({ transfers_enabled: false, transfers: { unavailable_message: CLOSED },
		limits: { transfers_per_minute: 200, open_transfers_per_visitor: 100 } });
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge and launch chromium', e);
}
mkdirSync(OUT, { recursive: true });
const context = await browser.newContext({ viewport: { width: 700, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
const warnings = [];
watchProblems(page, problems);
page.on('console', (msg) => { if (msg.type() === 'warning') warnings.push(msg.text()); });

const transcript = () => page.$$eval('#messages .msg', (els) => els.map((e) => ({ kind: e.className.split(' ')[1],
	text: e.querySelector('.text').textContent })));
const visitorShown = async () => (await transcript()).filter((m) => m.kind !== 'user').map((m) => m.text);
async function say(text) {
	await page.fill('#input', text);
	await page.press('#input', 'Enter');
}
async function lastBot() {
	const bots = (await transcript()).filter((m) => m.kind === 'bot');
	return bots.length ? bots[bots.length - 1].text : null;
}
async function botSays(text) {
	await waitUntil(`the bot saying "${text}"`, async () => (await lastBot()) === text);
}
const shot = (name) => page.screenshot({ path: path.join(OUT, name) });
async function freshPage() {
	await page.goto(BASE + '/webchat/demo.html');
	await page.evaluate(() => sessionStorage.clear());
	await page.reload();
	await page.locator('#messages .msg.bot').first().waitFor();
}
async function chatWithAgent() {
	await say('agent');
	await page.locator('#cancel').waitFor({ state: 'visible' });
	const t = await waitUntil('a transfer in sessionStorage', () => page.evaluate(() =>
		JSON.parse(sessionStorage.getItem('deskbridge.transfer') || 'null')).then((v) => v && v.id && v));
	const conv = await conversationOf(t.id);
	await agent(conv.id, 'accept');
	await waitUntil('the queue place shown', async () => (await transcript()).some((m) => /^You are number \d+ in line\.$/.test(m.text)));
	return conv;
}

await check('transfers turned off: the visitor reads the admin\'s message, is never told "Connecting…", and the reason is in the console only', async () => {
	await freshPage();
	await say('agent');
	await botSays(CLOSED);
	const shown = await visitorShown();
	assert(!shown.includes('Connecting you to an agent…'), 'told it is connecting: ' + JSON.stringify(shown));
	assert(!shown.some((t) => DEVELOPER_WORDS.test(t)), 'developer wording: ' + JSON.stringify(shown));
	assert(await page.isHidden('#cancel'), 'a request for an agent is shown');
	assert(warnings.some((w) => /transfers_enabled/.test(w)), 'no reason in the console: ' + JSON.stringify(warnings));
	await shot('visitor-transfers-off.png');
});

await check('a refused identity is told in plain words; the API\'s "Field \\"token\\" is invalid" goes to the console', async () => {
	await patchConfig({ transfers_enabled: true, security: { authenticate_users: true } });
	try {
		await freshPage();
		warnings.length = 0;
		await say('agent');
		await botSays('We could not confirm who you are. Please reload the page and try again.');
		const shown = await visitorShown();
		assert(!shown.some((t) => DEVELOPER_WORDS.test(t)), 'developer wording: ' + JSON.stringify(shown));
		assert(warnings.some((w) => /Field "token" is invalid/.test(w)), 'the refusal is not in the console: ' + JSON.stringify(warnings));
		await shot('visitor-not-recognized.png');
	} finally {
		await patchConfig({ security: { authenticate_users: false } });
	}
});

await check('a visitor message sent just after the agent joined is shown after "Ana joined", with the admin\'s avatar for an agent Zendesk gives none', async () => {
	const put = await fetch(BASE + '/api/setup/avatar', { method: 'PUT', body: AVATAR_PNG,
		headers: { ...(await adminSession()), 'Content-Type': 'image/png' } });
	assert(put.status === 204, 'avatar upload: ' + put.status);
	await freshPage();
	const conv = await chatWithAgent();
	/* Right after a poll, so that the next one on its own would come only after the message. */
	await page.waitForResponse((r) => r.url().includes('/events'));
	await agent(conv.id, 'says', { text: 'Hello, Ana here.', avatar: false });
	await page.type('#input', 'Thanks, I have a question', { delay: 25 });
	await page.press('#input', 'Enter');
	const order = await waitUntil('the join, the agent\'s and the visitor\'s message shown', async () => {
		const t = (await transcript()).map((m) => m.text);
		const at = ['Ana joined the chat.', 'Hello, Ana here.', 'Thanks, I have a question'].map((x) => t.indexOf(x));
		return at.every((i) => i >= 0) && at;
	});
	assert(order[0] < order[2] && order[1] < order[2], 'out of order: ' + JSON.stringify(await transcript()));
	const img = await page.waitForFunction(() => {
		const el = document.querySelector('#messages .msg.agent img.avatar');
		return el && el.complete && el.naturalWidth > 0 && { src: el.getAttribute('src'), width: el.naturalWidth };
	});
	const got = await img.jsonValue();
	assert(got.src === BASE + '/api/avatar' && got.width === 32, 'avatar: ' + JSON.stringify(got));
	await shot('visitor-order-and-avatar.png');
	await page.click('#end');
});

await check('while the agent types before their first message, the visitor sees the agent\'s name', async () => {
	await freshPage();
	const conv = await chatWithAgent();
	await agent(conv.id, 'typing', { typing: true, avatar: false });
	await page.locator('#typing').waitFor({ state: 'visible' });
	assert((await page.textContent('#typing')) === 'Ana is typing…', 'typing: ' + await page.textContent('#typing'));
	assert((await page.textContent('#peer')) === 'Ana', 'header: ' + await page.textContent('#peer'));
	assert((await visitorShown()).includes('Ana joined the chat.'), 'the agent is not named in the chat');
	await shot('visitor-agent-typing.png');
	await agent(conv.id, 'says', { text: 'Hi!', avatar: false });
	await waitUntil('the message', async () => (await visitorShown()).includes('Hi!'));
	assert((await visitorShown()).filter((t) => t === 'Ana joined the chat.').length === 1, 'joined twice');
	await page.click('#end');
});

await check('no agent online: GET /api/availability says so with the admin\'s message, which the visitor reads instead of "Connecting…"', async () => {
	await json('POST', FAKE + '/_fake/agents_online', { count: 0 });
	/* The answer is shared for 10 s; the next one after that is Zendesk's new count. */
	const a = await waitUntil('availability saying no agent', async () => {
		const r = await json('GET', BASE + '/api/availability');
		return r.status === 200 && r.body.agents_online === false && r.body;
	}, 25000);
	assert(a.message === CLOSED && a.reason === 'no_agents_online', JSON.stringify(a));
	await freshPage();
	await say('agent');
	await botSays(CLOSED);
	assert(!(await visitorShown()).includes('Connecting you to an agent…'), 'told it is connecting');
	await shot('visitor-no-agent.png');
});

await check('no CSP violation or script error happened', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await browser.close();
done();
