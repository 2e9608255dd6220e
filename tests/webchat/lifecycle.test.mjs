// tests/webchat/lifecycle.test.mjs — deskbridge-webchat.js driven through a mock chat host
// that keeps IBM Web Chat's and Carbon AI Chat's rules (mock-host.mjs), in Node, against
// the real deskbridge and the fake Zendesk (started by tests/integration/
// test_webchat_lifecycle.py). One check per way a chat starts or ends; after each, the
// visitor's transfer must be ended on deskbridge and its conversation no longer with the
// agent workspace. The visitor's network is a switch in front of fetch: down is a blip.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assert, bail, check, done, waitUntil } from '../tap.mjs';
import { BASE, FAKE, agent, configure, conversationOf, conversations, json, leftNothingOpen, visitorTexts } from './deskbridge-env.mjs';
import { HOST_END_CHAT_WAIT_MS, HOST_SEND_TIMEOUT_MS, MockHost, memoryStorage } from './mock-host.mjs';

const SRCDIR = process.env.DESKBRIDGE_SRCDIR || path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// Node decides module-or-not by extension; the browser by the script tag.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'deskbridge-webchat-'));
copyFileSync(path.join(SRCDIR, 'www', 'webchat', 'deskbridge-webchat.js'), path.join(tmp, 'deskbridge-webchat.mjs'));
const library = await import(pathToFileURL(path.join(tmp, 'deskbridge-webchat.mjs')));
rmSync(tmp, { recursive: true });
const { createServiceDeskFactory } = library;

if (!BASE || !FAKE)
	bail('DESKBRIDGE_BASE_URL and FAKE_ZENDESK_URL are set', new Error('run me through tests/integration/test_webchat_lifecycle.py'));
try {
	// Every case is a transfer or two from this one address, more than the default allows a minute.
	await configure({ limits: { transfers_per_minute: 200 } });
} catch (e) {
	bail('set up deskbridge against the fake Zendesk', e);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(String(e && e.stack || e)));

/* The visitor's network: every request the library makes, what deskbridge created, and a
 * switch. `slowCreate` delays the answer to POST /api/transfers (deskbridge has already
 * acted on it); `gone` is the page unloaded: its requests never answer. */
function network() {
	const net = { down: false, gone: false, slowCreate: 0, log: [], created: [] };
	net.fetch = async (url, init) => {
		const entry = { method: init.method, path: new URL(url).pathname + new URL(url).search, at: Date.now(),
			auth: (init.headers || {}).Authorization || null, body: init.body ? JSON.parse(init.body) : undefined };
		net.log.push(entry);
		if (net.down || net.gone)
			throw new TypeError('Failed to fetch');
		const res = await fetch(url, init);
		entry.status = res.status;
		if (init.method === 'POST' && entry.path === '/api/transfers') {
			if (res.status === 201)
				net.created.push(await res.clone().json());
			if (net.slowCreate)
				await sleep(net.slowCreate);
		}
		if (net.gone)
			return new Promise(() => {});
		return res;
	};
	net.count = (fn) => net.log.filter(fn).length;
	return net;
}

const CONNECT = { output: { generic: [{ response_type: 'connect_to_agent',
	message_to_human_agent: 'The visitor asked for a person (lifecycle test).' }] } };
let visitors = 0;

/* A page with the host and the library. Each case is its own visitor: deskbridge limits
 * the transfers one visitor may have open. */
function page({ flavor = 'webchat', storage = memoryStorage(), net = network(), visitor, factory, ...hostOptions } = {}) {
	const options = { baseUrl: BASE, fetch: net.fetch, storage, document: null, window: null,
		visitor: visitor || { name: 'Lifecycle Visitor', email: `lifecycle-${process.pid}-${++visitors}@example.com` },
		minBackoffMs: 100, maxBackoffMs: 400, ...(hostOptions.library || {}) };
	const host = new MockHost({ flavor, storage, factory: factory ? factory(options) : createServiceDeskFactory(options),
		...hostOptions });
	return { host, net, storage, options };
}

const shown = (host, kind) => host.transcript.some((e) => e[0] === kind);
const stored = (storage) => JSON.parse(storage.getItem('deskbridge.transfer') || 'null');
async function queued(p) {
	const t = await waitUntil('a transfer made', () => p.net.created.at(-1));
	const conv = await conversationOf(t.id);
	return { t, conv };
}
async function agentWrites(conv, text) {
	await agent(conv.id, 'accept');
	await agent(conv.id, 'says', { text });
}
function noViolations(host) {
	assert(host.violations.length === 0, 'the host would not take: ' + host.violations.join('; '));
}

await check('1. End chat after an agent joined ends the transfer, with its secret, and Zendesk lets the conversation go', async () => {
	const p = page();
	await p.host.load();
	assert(await p.host.startChat(CONNECT), 'startChat failed: ' + JSON.stringify(p.host.transcript));
	const { t, conv } = await queued(p);
	await agentWrites(conv, 'Hello, Ana here');
	await waitUntil('the agent shown', () => shown(p.host, 'agent joined') && shown(p.host, 'agent says'));
	await p.host.endChat();
	const end = p.net.log.find((r) => r.path === `/api/transfers/${t.id}/end`);
	assert(end && end.auth === 'Bearer ' + t.secret, 'the end request: ' + JSON.stringify(end));
	await leftNothingOpen(t);
	noViolations(p.host);
});

await check('2. Cancelling while the transfer is being made ends it as soon as it exists, and nothing polls it', async () => {
	const p = page();
	p.net.slowCreate = 1500;
	await p.host.load();
	const starting = p.host.startChat(CONNECT);
	await waitUntil('the transfer requested', () => p.net.count((r) => r.path === '/api/transfers'));
	await p.host.endChat();
	await starting;
	const t = await waitUntil('the transfer made', () => p.net.created.at(-1));
	await leftNothingOpen(t);
	await sleep(1000);
	assert(p.net.count((r) => r.path.includes('/events')) === 0, 'polled a cancelled transfer');
	assert(!stored(p.storage), 'the cancelled transfer kept for a reload');
	noViolations(p.host);
});

await check('3a. A network blip while queued is ridden out: the agent joining after it reaches the visitor', async () => {
	const p = page();
	await p.host.load();
	await p.host.startChat(CONNECT);
	const { t, conv } = await queued(p);
	const before = p.net.log.length;
	p.net.down = true;
	await waitUntil('two failed polls', () => p.net.log.slice(before).filter((r) => r.path.includes('/events')).length >= 2, 10000);
	p.net.down = false;
	await agentWrites(conv, 'Back after the blip');
	await waitUntil('the agent shown after the blip', () => shown(p.host, 'agent says'), 15000);
	assert(!shown(p.host, 'could not connect'), 'the host ended the chat: ' + JSON.stringify(p.host.transcript));
	assert(p.host.ignored.length === 0, 'callbacks outside a chat: ' + JSON.stringify(p.host.ignored));
	await p.host.endChat();
	await leftNothingOpen(t);
});

await check('3b. An outage while queued that outlasts queuedGiveUpMs ends the chat on both sides once deskbridge is back', async () => {
	const p = page({ library: { queuedGiveUpMs: 1500 } });
	await p.host.load();
	await p.host.startChat(CONNECT);
	const { t } = await queued(p);
	p.net.down = true;
	await waitUntil('the host told it could not connect', () => shown(p.host, 'could not connect'), 15000);
	assert(!p.host.chatStarted, 'the host still has a chat');
	p.net.down = false;
	await leftNothingOpen(t);
	assert(!p.storage.getItem('deskbridge.ending'), 'an end still pending in storage');
});

await check('4a. A reload while queued, then Connect again: the waiting transfer is taken up again, never left beside a new one', async () => {
	const storage = memoryStorage();
	const first = page({ storage });
	await first.host.load();
	await first.host.startChat(CONNECT);
	const { t } = await queued(first);
	first.net.gone = true;   // the page unloads
	const second = page({ storage, visitor: first.options.visitor });
	assert(await second.host.load() === false, 'the host reconnected a chat no agent had joined');
	await second.host.startChat(CONNECT);
	await sleep(500);
	const made = second.net.created.map((c) => c.id).filter((id) => id !== t.id);
	const old = await json('GET', BASE + '/api/transfers/' + t.id, undefined, { Authorization: 'Bearer ' + t.secret });
	assert(made.length === 0 || old.body.state === 'ended', `a new transfer ${made} beside the open ${t.id} (${old.body.state})`);
	const current = stored(storage);
	const conv = await conversationOf(current.id);
	await agentWrites(conv, 'Found you after the reload');
	await waitUntil('the agent shown after the reload', () => shown(second.host, 'agent says'), 15000);
	await second.host.endChat();
	await leftNothingOpen(current);
	await leftNothingOpen(t);
	noViolations(second.host);
});

await check('4b. A reload while the transfer is being made: the retried start keeps its client_request_id and client_secret and gets the same transfer', async () => {
	const storage = memoryStorage();
	const first = page({ storage });
	first.net.slowCreate = 60000;
	await first.host.load();
	first.host.startChat(CONNECT);
	const t = await waitUntil('the transfer made', () => first.net.created.at(-1));
	first.net.gone = true;
	const second = page({ storage, visitor: first.options.visitor });
	await second.host.load();
	assert(await second.host.startChat(CONNECT), 'startChat failed: ' + JSON.stringify(second.host.transcript));
	const ids = (net) => net.log.filter((r) => r.path === '/api/transfers').map((r) => r.body.client_request_id);
	assert(ids(second.net)[0] === ids(first.net)[0], `client_request_id ${ids(first.net)} then ${ids(second.net)}`);
	const secrets = (net) => net.log.filter((r) => r.path === '/api/transfers').map((r) => r.body.client_secret);
	assert(secrets(second.net)[0] === secrets(first.net)[0], 'another client_secret on the retry');
	assert(stored(storage).id === t.id, 'another transfer: ' + stored(storage).id);
	const mine = (await conversations()).filter((c) => c.metadata && c.metadata.deskbridge_transfer_id === t.id);
	assert(mine.length === 1, mine.length + ' conversations for the transfer');
	await second.host.endChat();
	await leftNothingOpen(t);
});

await check('5. A message typed while the transfer is being made is held, then delivered once', async () => {
	const p = page();
	p.net.slowCreate = 800;
	await p.host.load();
	const starting = p.host.startChat(CONNECT);
	await waitUntil('the transfer requested', () => p.net.count((r) => r.path === '/api/transfers'));
	const sending = p.host.send('Typed while connecting');
	await starting;
	const id = await sending;
	assert(p.host.messages.get(id) === 'sent', 'message ' + p.host.messages.get(id));
	const { t, conv } = await queued(p);
	await waitUntil('the message in Zendesk', async () =>
		visitorTexts((await conversations()).find((c) => c.id === conv.id)).filter((x) => x === 'Typed while connecting').length === 1);
	await p.host.endChat();
	await leftNothingOpen(t);
});

await check('6. A host callback whose promise rejects is caught: no unhandled rejection, and the chat goes on', async () => {
	const p = page({ rejectingCallbacks: ['updateAgentAvailability', 'agentJoined', 'sendMessageToUser'] });
	await p.host.load();
	await p.host.startChat(CONNECT);
	const { t, conv } = await queued(p);
	await agentWrites(conv, 'Despite the host');
	await waitUntil('the agent shown', () => shown(p.host, 'agent says'));
	await sleep(100);
	assert(unhandled.length === 0, 'unhandled rejections:\n' + unhandled.join('\n'));
	await p.host.endChat();
	await leftNothingOpen(t);
});

await check('7. The library\'s timings sit inside the hosts\': a message settles before the host marks it failed, and never flips', async () => {
	// At a scale a test can wait for: the host gives up on a message after 1.5 s.
	const p = page({ sendTimeoutMs: 1500, library: { sendTimeoutMs: 1100 } });
	await p.host.load();
	await p.host.startChat(CONNECT);
	const { t, conv } = await queued(p);
	await agentWrites(conv, 'Go ahead');
	await waitUntil('the agent shown', () => shown(p.host, 'agent says'));
	p.net.down = true;
	const sending = p.host.send('Sent into an outage');
	await sleep(2000);
	p.net.down = false;
	const id = await sending;
	await sleep(1500);
	assert(p.host.messages.get(id) === 'failed', 'message ' + p.host.messages.get(id));
	assert(p.host.flips.length === 0, 'shown failed, then sent: ' + p.host.flips);
	await p.host.endChat();
	await leftNothingOpen(t);
	// And the defaults, at the hosts' own scale.
	assert(library.Defaults && library.Defaults.sendTimeoutMs < HOST_SEND_TIMEOUT_MS,
		'sendTimeoutMs ' + (library.Defaults && library.Defaults.sendTimeoutMs) + ' vs the host\'s ' + HOST_SEND_TIMEOUT_MS);
	assert(library.Defaults.endChatWaitMs < HOST_END_CHAT_WAIT_MS, 'endChatWaitMs ' + library.Defaults.endChatWaitMs);
});

await check('Carbon AI Chat: a Promise factory, its queue and profile fields, and a whole chat with nothing left open', async () => {
	const p = page({ flavor: 'carbon', factory: (o) => library.createCarbonServiceDeskFactory(o) });
	await p.host.load();
	assert(await p.host.startChat(CONNECT), 'startChat failed');
	const { t, conv } = await queued(p);
	await agent(conv.id, 'accept');
	await waitUntil('the queue position', () => p.host.transcript.some((e) => e[0] === 'availability' && e[1].positionInQueue === 1));
	await agent(conv.id, 'says', { text: 'Carbon hello' });
	await waitUntil('the agent shown', () => shown(p.host, 'agent says'));
	await p.host.endChat();
	await leftNothingOpen(t);
	noViolations(p.host);
});

await check('Carbon AI Chat is told apart from Web Chat by what it hands the factory', async () => {
	const p = page({ flavor: 'carbon' });
	await p.host.load();
	assert(p.host.desk.host === 'carbon', 'detected ' + p.host.desk.host);
	const w = page({ flavor: 'webchat' });
	await w.host.load();
	assert(w.host.desk.host === 'webchat', 'detected ' + w.host.desk.host);
});

done();
