// tests/browser/webchat.test.mjs — the demo chat (/webchat/demo.html) and its library
// (deskbridge-webchat.js) in Debian's chromium, through a whole handoff against the real
// deskbridge and the fake Zendesk (tests/fake_zendesk.py, driven over its /_fake/ routes),
// both started by run_browser_tests.py.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';
import { BASE, FAKE, agent, agentWorkspaceId, configure, conversation, conversationOf, conversations, json,
	leftNothingOpen, visitorTexts } from '../webchat/deskbridge-env.mjs';

const OUT = process.env.BROWSER_OUTPUT_DIR;

/* ---- the page --------------------------------------------------------------------------- */

const texts = (page, kind) => page.$$eval(`#messages .msg.${kind} .text`, (els) => els.map((e) => e.textContent));
async function say(page, text) {
	await page.fill('#input', text);
	await page.press('#input', 'Enter');
}
async function shows(page, kind, text, times = 1) {
	await waitUntil(`${kind} message "${text}" shown ${times}x`,
		async () => (await texts(page, kind)).filter((t) => t === text).length === times);
}
const countOf = (list, text) => list.filter((t) => t === text).length;

if (!BASE || !FAKE)
	bail('DESKBRIDGE_BASE_URL and FAKE_ZENDESK_URL are set', new Error('run me through run_browser_tests.py'));
let browser;
try {
	await configure();
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge and launch chromium', e);
}
mkdirSync(OUT, { recursive: true });
const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
watchProblems(page, problems);
let cid;

await check('the demo page loads its library as an ES module under the CSP and greets the visitor', async () => {
	const res = await page.goto(BASE + '/webchat/demo.html');
	assert(res.status() === 200, 'status ' + res.status());
	const csp = res.headers()['content-security-policy'] || '';
	assert(/default-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), 'CSP: ' + csp);
	await shows(page, 'bot', "Hi! I'm the demo bot. Type 'agent' to talk to a person.");
});

await check('asking for an agent hands the conversation, with the bot history, to the agent workspace', async () => {
	await say(page, 'Where is my order 42?');
	await shows(page, 'bot', "I'm only a demo bot and can't help with that. Type 'agent' to talk to a person.");
	await say(page, 'agent please');
	const workspace = await agentWorkspaceId();
	const conv = await waitUntil('a conversation passed to the agent workspace',
		async () => (await conversations()).find((c) => c.control === workspace));
	cid = conv.id;
	const all = conv.messages.map((m) => m.content.text);
	assert(all.includes('Where is my order 42?') && all.includes('agent please'), 'history: ' + JSON.stringify(all));
	assert(all.includes('The visitor asked for a person on the deskbridge demo page.'), 'bot note: ' + JSON.stringify(all));
	assert(/^deskbridge_tr_/.test(conv.pass_metadata['dataCapture.systemField.tags']), JSON.stringify(conv.pass_metadata));
	const stored = await page.evaluate(() => ({ session: sessionStorage.getItem('deskbridge.transfer'),
		local: Object.keys(localStorage) }));
	assert(JSON.parse(stored.session).secret, 'no transfer in sessionStorage');
	assert(stored.local.length === 0, 'localStorage used: ' + stored.local);
});

await check('the queue position is shown while waiting', async () => {
	await agent(cid, 'accept');
	await shows(page, 'status', 'You are number 1 in line.');
});

await check('the agent typing is shown, then the agent joins and writes', async () => {
	await agent(cid, 'typing', { typing: true });
	await page.locator('#typing').waitFor({ state: 'visible' });
	await agent(cid, 'says', { text: "Hi, I'm Ana. How can I help?" });
	await shows(page, 'agent', "Hi, I'm Ana. How can I help?");
	await shows(page, 'status', 'Ana joined the chat.');
	assert(await page.isHidden('#typing'), 'typing still shown after the message');
	assert((await page.textContent('#peer')) === 'Ana', 'peer: ' + await page.textContent('#peer'));
});

await check('the visitor typing stays with deskbridge (Zendesk takes none from a user), and their messages reach Zendesk once, in order', async () => {
	await page.fill('#input', 'I need');
	await page.type('#input', ' a refund');
	await page.press('#input', 'Enter');
	await say(page, 'for order 42');
	await waitUntil('both messages in Zendesk', async () => {
		const v = visitorTexts(await conversation(cid));
		return countOf(v, 'I need a refund') === 1 && countOf(v, 'for order 42') === 1 &&
			v.indexOf('I need a refund') < v.indexOf('for order 42');
	});
	await waitUntil('messages marked sent', async () =>
		(await page.$$eval('#messages .msg.user .state', (els) => els.map((e) => e.textContent))).slice(-2)
			.every((s) => s === 'Sent' || s === 'Seen'));
	const activity = (await conversation(cid)).activity || [];
	assert(!activity.some((a) => a.startsWith('typing:')), 'typing sent to Zendesk as the user: ' + activity);
	const refused = (await json('GET', FAKE + '/_fake/refusals')).body.refusals;
	assert(refused.length === 0, 'the fake Zendesk refused: ' + JSON.stringify(refused));
});

await check('agent reading is shown as Seen on the visitor\'s messages', async () => {
	await agent(cid, 'read');
	await waitUntil('Seen', async () =>
		(await page.$$eval('#messages .msg.user .state', (els) => els.map((e) => e.textContent))).includes('Seen'));
});

await check('markup from either side is shown as literal text, never run', async () => {
	const fromAgent = '<img src=x onerror="window.__pwned=1">bold <b>agent</b>';
	const fromVisitor = '<script>window.__pwned=2</script><img src=y onerror="window.__pwned=3">';
	await agent(cid, 'says', { text: fromAgent });
	await say(page, fromVisitor);
	await shows(page, 'agent', fromAgent);
	await shows(page, 'user', fromVisitor);
	await waitUntil('hostile text in Zendesk', async () => visitorTexts(await conversation(cid)).includes(fromVisitor));
	const dom = await page.evaluate(() => ({ pwned: window.__pwned,
		imgs: document.querySelectorAll('#messages img, #messages script, #messages b').length }));
	assert(dom.pwned === undefined && dom.imgs === 0, JSON.stringify(dom));
	await page.screenshot({ path: path.join(OUT, 'webchat-demo-mid-chat.png') });
});

await check('a reload mid-chat resumes the same chat without losing or repeating a message', async () => {
	const before = await page.$$eval('#messages .msg', (els) => els.map((e) => e.className + '|' + e.querySelector('.text').textContent));
	await agent(cid, 'says', { text: 'Sent while the page reloads' });
	await page.reload();
	await shows(page, 'agent', 'Sent while the page reloads');
	const after = await page.$$eval('#messages .msg', (els) => els.map((e) => e.className + '|' + e.querySelector('.text').textContent));
	assert(JSON.stringify(after.slice(0, before.length)) === JSON.stringify(before), 'transcript changed across the reload');
	await agent(cid, 'says', { text: 'After the reload' });
	await shows(page, 'agent', 'After the reload');
	await say(page, 'Still here after the reload');
	await waitUntil('message after reload in Zendesk', async () =>
		countOf(visitorTexts(await conversation(cid)), 'Still here after the reload') === 1);
	await new Promise((r) => setTimeout(r, 2500));   // a few polls more: nothing comes twice
	const agentTexts = await texts(page, 'agent');
	for (const t of ['Sent while the page reloads', 'After the reload', "Hi, I'm Ana. How can I help?"])
		assert(countOf(agentTexts, t) === 1, `"${t}" shown ${countOf(agentTexts, t)}x`);
});

await check('a second tab of the same chat shows each message once and sends once', async () => {
	const [second] = await Promise.all([context.waitForEvent('page'), page.evaluate(() => { window.open(location.href); })]);
	watchProblems(second, problems);
	await second.waitForLoadState();
	await agent(cid, 'says', { text: 'To both tabs' });
	await shows(page, 'agent', 'To both tabs');
	await shows(second, 'agent', 'To both tabs');
	await say(second, 'Written in the second tab');
	await waitUntil('second tab message in Zendesk', async () =>
		countOf(visitorTexts(await conversation(cid)), 'Written in the second tab') === 1);
	await shows(page, 'user', 'Written in the second tab');
	await new Promise((r) => setTimeout(r, 2500));
	for (const p of [page, second]) {
		assert(countOf(await texts(p, 'agent'), 'To both tabs') === 1, 'agent message repeated');
		assert(countOf(await texts(p, 'user'), 'Written in the second tab') === 1, 'visitor message repeated');
	}
	assert(countOf(visitorTexts(await conversation(cid)), 'Written in the second tab') === 1, 'sent twice');
	await second.close();
});

await check('the network going away is reported, and the chat recovers with nothing lost', async () => {
	await context.setOffline(true);
	await page.locator('#connection').waitFor({ state: 'visible' });
	assert(/Reconnecting/.test(await page.textContent('#connection')), 'badge text');
	await agent(cid, 'says', { text: 'Written while you were offline' });
	await context.setOffline(false);
	await page.locator('#connection').waitFor({ state: 'hidden', timeout: 40000 });
	await shows(page, 'status', 'Connected again.');
	await shows(page, 'agent', 'Written while you were offline');
});

await check('Zendesk failing for a while delays a message, never loses or repeats it', async () => {
	await json('POST', FAKE + '/_fake/fail', { how: 503, count: 3 });
	await say(page, 'Sent while Zendesk fails');
	await waitUntil('message delivered after Zendesk recovered', async () =>
		countOf(visitorTexts(await conversation(cid)), 'Sent while Zendesk fails') === 1, 40000);
	const v = visitorTexts(await conversation(cid));
	assert(v.indexOf('Still here after the reload') < v.indexOf('Sent while Zendesk fails'), 'out of order: ' + JSON.stringify(v));
});

await check('the agent ending the chat is shown, and polling stops', async () => {
	await agent(cid, 'solves');
	await shows(page, 'status', 'Ana ended the chat.');
	assert(await page.isHidden('#end'), 'end button still shown');
	assert(await page.evaluate(() => sessionStorage.getItem('deskbridge.transfer')) === null, 'transfer kept in storage');
	const polls = [];
	page.on('request', (r) => { if (r.url().includes('/events')) polls.push(r.url()); });
	await new Promise((r) => setTimeout(r, 3500));
	assert(polls.length === 0, 'still polling: ' + polls.length);
});

await check('every visitor message reached Zendesk exactly once, in the order sent', async () => {
	const v = visitorTexts(await conversation(cid));
	const sent = ['Where is my order 42?', 'agent please', 'I need a refund', 'for order 42',
		'<script>window.__pwned=2</script><img src=y onerror="window.__pwned=3">', 'Still here after the reload',
		'Written in the second tab', 'Sent while Zendesk fails'];
	assert(JSON.stringify(v) === JSON.stringify(sent), JSON.stringify(v));
});

/* ---- how a chat starts and ends, as Web Chat has it ------------------------------------- */

const storedTransfer = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('deskbridge.transfer') || 'null'));
const transferMade = () => waitUntil('a transfer in sessionStorage', async () => {
	const t = await storedTransfer();
	return t && t.id ? t : null;
});
let afterReload;   // the transfers of the reload check, ended by the End chat check
async function askForAgent() {
	await say(page, 'agent');
	await page.locator('#cancel').waitFor({ state: 'visible' });
	assert(await page.isHidden('#end'), 'End chat shown while connecting');
	assert((await page.textContent('#peer')) === 'Connecting…', 'header: ' + await page.textContent('#peer'));
}

await check('a reload while queued leaves no chat open beside the next one: asking again takes the waiting one up', async () => {
	await askForAgent();
	const queued = await transferMade();
	await conversationOf(queued.id);
	await page.reload();
	await shows(page, 'status', 'The request for an agent was interrupted. Ask again to continue.');
	assert(await page.isHidden('#cancel') && await page.isHidden('#end'), 'a chat is shown after the reload');
	await askForAgent();
	const again = await transferMade();
	const old = await json('GET', BASE + '/api/transfers/' + queued.id, undefined, { Authorization: 'Bearer ' + queued.secret });
	assert(again.id === queued.id || old.body.state === 'ended', `${again.id} beside the open ${queued.id}`);
	const conv = await conversationOf(again.id);
	await agent(conv.id, 'accept');
	await agent(conv.id, 'says', { text: 'Picked up after your reload' });
	await shows(page, 'agent', 'Picked up after your reload');
	await page.locator('#end').waitFor({ state: 'visible' });
	assert(await page.isHidden('#cancel'), 'Cancel shown with an agent');
	afterReload = { again, queued };
});

await check('End chat ends the transfer and the agent workspace lets the conversation go', async () => {
	const { again, queued } = afterReload;
	await page.click('#end');
	await shows(page, 'status', 'You ended the chat.');
	await leftNothingOpen(again);
	await leftNothingOpen(queued);
});

await check('a blip while queued is ridden out: "Connecting…" stays, and the agent joining after it is shown', async () => {
	await askForAgent();
	const t = await transferMade();
	const conv = await conversationOf(t.id);
	let failed = 0;
	const count = (r) => { if (r.url().includes('/events')) failed++; };
	page.on('requestfailed', count);
	await context.setOffline(true);
	await waitUntil('two failed polls', () => failed >= 2, 15000);
	await context.setOffline(false);
	page.off('requestfailed', count);
	assert(await page.isHidden('#connection'), 'Reconnecting shown while queued');
	assert(await page.isVisible('#cancel'), 'the request was dropped by the blip');
	await agent(conv.id, 'accept');
	await agent(conv.id, 'says', { text: 'Here after your blip' });
	await shows(page, 'agent', 'Here after your blip');
	await page.click('#end');
	await leftNothingOpen(t);
});

await check('cancelling while the transfer is being made ends it as soon as it exists', async () => {
	let made = null;
	await page.route('**/api/transfers', async (route) => {
		const response = await route.fetch();
		made = await response.json();
		await new Promise((r) => setTimeout(r, 1500));
		await route.fulfill({ response });
	});
	await askForAgent();
	await waitUntil('the transfer requested', () => made);
	await page.click('#cancel');
	await shows(page, 'status', 'You cancelled the request for an agent.');
	await leftNothingOpen(made);
	await page.unroute('**/api/transfers');
	assert(await page.evaluate(() => sessionStorage.getItem('deskbridge.transfer')) === null, 'transfer kept in storage');
});

await check('no CSP violation or script error happened', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await browser.close();
done();
