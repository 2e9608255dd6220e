// tests/unit/webchat.test.mjs — www/webchat/deskbridge-webchat.js against a stub of Web
// Chat's callback object and a scripted deskbridge (a fetch that answers from a script and
// records every request): the order and arguments of the callbacks, and how the library
// polls, retries, resumes and stops. Prints TAP. No browser, no server: the browser test
// (tests/browser/webchat.test.mjs) runs the same library against the real ones.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { check, done } from '../tap.mjs';

const SRCDIR = process.env.DESKBRIDGE_SRCDIR || path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIBRARY = path.join(SRCDIR, 'www', 'webchat', 'deskbridge-webchat.js');
// Node decides module-or-not by extension; the browser by the script tag.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'deskbridge-webchat-'));
copyFileSync(LIBRARY, path.join(tmp, 'deskbridge-webchat.mjs'));
const { createServiceDeskFactory, ErrorType, Strings } = await import(pathToFileURL(path.join(tmp, 'deskbridge-webchat.mjs')));
rmSync(tmp, { recursive: true });

function equal(actual, expected, what) {
	const a = JSON.stringify(actual), b = JSON.stringify(expected);
	if (a !== b)
		throw new Error(`${what}:\n  got      ${a}\n  expected ${b}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 5000) {
	const deadline = Date.now() + ms;
	while (!fn()) {
		if (Date.now() > deadline)
			throw new Error('timed out waiting for ' + what);
		await sleep(5);
	}
}

/* ---- stubs ------------------------------------------------------------------------------ */

/* Web Chat's callback object: records every call with its arguments. */
function stubCallback() {
	const calls = [];
	const record = (name) => (...args) => { calls.push([name, ...args]); };
	const cb = { calls };
	for (const name of ['updateAgentAvailability', 'agentJoined', 'agentReadMessages', 'agentTyping',
		'sendMessageToUser', 'beginTransferToAnotherAgent', 'agentLeftChat', 'setErrorStatus'])
		cb[name] = record(name);
	cb.agentEndedChat = async () => { calls.push(['agentEndedChat']); };
	return cb;
}

function memoryStorage() {
	const m = new Map();
	return { map: m, getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)),
		removeItem: (k) => m.delete(k) };
}

/* What deskbridge refuses before any route's own answer (docs/api.md, "Authorization"):
 * a call on a transfer without its secret as the Bearer is 401, and the stubs below hand
 * out one transfer, tr_1, whose secret is SECRET. */
const SECRET = 's3cret';
function refusedAsDeskbridgeWould(req) {
	if (!/^\/api\/transfers\/[^/?]+/.test(req.path))
		return null;
	if ((req.headers && req.headers.Authorization) !== 'Bearer ' + SECRET)
		return { status: 401, body: { error: { code: 'unauthenticated', message: 'missing or wrong credentials' } } };
	return null;
}

/* deskbridge as a script: route(method, path, body, headers) answers {status, body, headers}
 * or throws (a network failure). Every request is recorded with its time. */
function scriptedFetch(route) {
	const requests = [];
	const fetch = async (url, init) => {
		const u = new URL(url);
		const body = init.body instanceof FormData ? init.body : init.body ? JSON.parse(init.body) : undefined;
		const req = { method: init.method, path: u.pathname + u.search, body, headers: init.headers, at: Date.now() };
		requests.push(req);
		const a = refusedAsDeskbridgeWould(req) || await route(req);
		req.status = a.status;
		const headers = new Map(Object.entries(a.headers || {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
		return { status: a.status, headers: { get: (k) => headers.get(k.toLowerCase()) ?? null },
			text: async () => (a.body === undefined ? '' : JSON.stringify(a.body)) };
	};
	return { fetch, requests };
}

function stubDocument() {
	const listeners = [];
	return { hidden: false, addEventListener: (type, fn) => listeners.push(fn),
		fire() { for (const fn of listeners) fn(); } };
}

const CONNECT = { output: { generic: [{ response_type: 'connect_to_agent', message_to_human_agent: 'Wants a refund',
	transfer_info: { target: { deskbridge: { department: 'billing' } } } }] } };
const created = (extra = {}) => ({ status: 201, body: { id: 'tr_1', secret: SECRET, state: 'waiting', next: 0, poll_after_ms: 20, ...extra } });
const agentAna = { id: 'agent-7', name: 'Ana', avatar_url: 'https://acme.zendesk.com/ana.png' };

function desk(route, options = {}) {
	const callback = stubCallback();
	const net = scriptedFetch(route);
	const storage = options.storage || memoryStorage();
	const d = createServiceDeskFactory({ baseUrl: 'https://support.example/', fetch: net.fetch, storage,
		document: options.document || null, window: null, minBackoffMs: 10, maxBackoffMs: 40,
		getHistory: () => [{ from: 'user', text: 'refund?' }, { from: 'assistant', text: 'Let me get someone' }],
		...options })({ callback });
	return { d, callback, net, storage };
}

/* ---- checks ------------------------------------------------------------------------------ */

await check('a scripted event stream drives Web Chat\'s callbacks in order, with Web Chat\'s argument shapes', async () => {
	const pages = [
		{ state: 'waiting', next: 2, poll_after_ms: 20, events: [
			{ seq: 1, type: 'queued', position: 2, estimated_wait_s: null },
			{ seq: 2, type: 'queued', position: 1, estimated_wait_s: 90 }] },
		{ state: 'active', next: 6, poll_after_ms: 20, events: [
			{ seq: 3, type: 'agent_typing', typing: true },
			{ seq: 4, type: 'agent_joined', agent: agentAna },
			{ seq: 5, type: 'message', from: 'agent', id: 'm1', text: '<b>Hi</b>, I am Ana', agent: agentAna },
			{ seq: 6, type: 'agent_typing', typing: false }] },
		{ state: 'active', next: 12, poll_after_ms: 20, events: [
			{ seq: 7, type: 'message', from: 'user', id: 'm2', text: 'mine', client_message_id: 'cm-1' },
			{ seq: 8, type: 'read', read_seq: 7 },
			{ seq: 9, type: 'transferred', agent: { id: 'agent-9', name: 'Bo', avatar_url: null } },
			{ seq: 10, type: 'agent_joined', agent: { id: 'agent-9', name: 'Bo', avatar_url: null } },
			{ seq: 11, type: 'error', code: 'delivery_failed', message_id: 'm2', message_seq: 7 },
			{ seq: 12, type: 'agent_left' }] },
		{ state: 'ended', next: 14, poll_after_ms: 20, events: [
			{ seq: 13, type: 'message', from: 'system', id: 'm3', text: 'The agent closed the chat.' },
			{ seq: 14, type: 'ended', by: 'agent', reason: 'ticket_closed' }] },
	];
	let page = 0;
	const { d, callback, net, storage } = desk(async (r) => {
		if (r.method === 'POST' && r.path === '/api/transfers')
			return created();
		if (r.method === 'POST' && r.path.endsWith('/messages'))
			return { status: 202, body: { seq: 7, id: 'm2' } };
		if (r.path.startsWith('/api/transfers/tr_1/events'))
			return { status: 200, body: pages[Math.min(page++, pages.length - 1)], headers: { ETag: '"e' + page + '"' } };
		return { status: 404, body: { error: { code: 'not_found', message: 'no' } } };
	});
	await d.startChat(CONNECT, {});
	await until('page 2 seen', () => page >= 2);
	await d.sendMessageToAgent({ input: { text: 'mine' } }, 'cm-1');
	await until('ended', () => callback.calls.some((c) => c[0] === 'agentEndedChat'));
	const bo = { id: 'agent-9', nickname: 'Bo' };
	equal(callback.calls, [
		['updateAgentAvailability', { position_in_queue: 2 }],
		['updateAgentAvailability', { position_in_queue: 1, estimated_wait_time: 2 }],
		['agentTyping', true],
		['agentJoined', { id: 'agent-7', nickname: 'Ana', profile_picture_url: 'https://acme.zendesk.com/ana.png' }],
		['sendMessageToUser', '<b>Hi</b>, I am Ana', 'agent-7'],
		['agentTyping', false],
		['agentReadMessages'],
		['beginTransferToAnotherAgent', bo],
		['agentJoined', bo],
		['setErrorStatus', { type: ErrorType.USER_MESSAGE, messageID: 'cm-1',
			logInfo: { seq: 11, type: 'error', code: 'delivery_failed', message_id: 'm2', message_seq: 7 } }],
		['agentLeftChat'],
		['sendMessageToUser', 'The agent closed the chat.', 'agent-9'],
		['agentEndedChat'],
	], 'callbacks');
	const post = net.requests[0];
	equal([post.body.message_to_human_agent, post.body.department, post.body.history.map((h) => h.text)],
		['Wants a refund', 'billing', ['refund?', 'Let me get someone']], 'transfer request');
	equal(typeof post.body.client_request_id, 'string', 'client_request_id');
	equal(/^[A-Za-z0-9_-]{43}$/.test(post.body.client_secret), true, 'client_secret: 256 bits, base64url');
	const polls = net.requests.filter((r) => r.path.includes('/events'));
	equal(polls.map((r) => r.path.split('after=')[1]).slice(0, 4), ['0', '2', '6', '12'], 'after= cursor');
	equal(polls[1].headers.Authorization, 'Bearer s3cret', 'Bearer secret');
	await sleep(80);
	equal(net.requests.filter((r) => r.path.includes('/events')).length, polls.length, 'polls after the end');
	equal(storage.map.size, 0, 'storage after the end');
});

await check('events seen before are not repeated; 304 with ETag answers nothing; poll_after_ms is honoured', async () => {
	let n = 0;
	const { d, callback, net } = desk(async (r) => {
		if (r.method === 'POST')
			return created({ poll_after_ms: 60 });
		n++;
		if (n === 1)
			return { status: 200, body: { state: 'active', next: 1, poll_after_ms: 60,
				events: [{ seq: 1, type: 'message', from: 'agent', id: 'a', text: 'one', agent: agentAna }] }, headers: { ETag: '"x1"' } };
		if (n === 2)   // a server answering overlapping events again
			return { status: 200, body: { state: 'active', next: 2, poll_after_ms: 60, events: [
				{ seq: 1, type: 'message', from: 'agent', id: 'a', text: 'one', agent: agentAna },
				{ seq: 2, type: 'message', from: 'agent', id: 'b', text: 'two', agent: agentAna }] }, headers: { ETag: '"x2"' } };
		return { status: 304, headers: { ETag: '"x2"' } };
	});
	await d.startChat(CONNECT, {});
	await until('5 polls', () => n >= 5);
	await d.endChat();
	equal(callback.calls.filter((c) => c[0] === 'sendMessageToUser').map((c) => c[1]), ['one', 'two'], 'messages');
	const polls = net.requests.filter((r) => r.path.includes('/events'));
	equal(polls.slice(1, 4).map((r) => r.headers['If-None-Match']), ['"x1"', '"x2"', '"x2"'], 'If-None-Match');
	const gaps = polls.slice(1, 5).map((r, i) => r.at - polls[i].at);
	if (gaps.some((g) => g < 55))
		throw new Error('polled sooner than poll_after_ms: ' + gaps);
});

await check('Retry-After on 429 is waited out before the next poll', async () => {
	let n = 0;
	const { d, net } = desk(async (r) => {
		if (r.method === 'POST')
			return r.path.endsWith('/end') ? { status: 200, body: { state: 'ended' } } : created();
		n++;
		return n === 1 ? { status: 429, body: { error: { code: 'rate_limited', message: 'slow down' } }, headers: { 'Retry-After': '1' } }
			: { status: 200, body: { state: 'waiting', next: 0, poll_after_ms: 20, events: [] } };
	});
	await d.startChat(CONNECT, {});
	await until('second poll', () => n >= 2, 3000);
	await d.endChat();
	const polls = net.requests.filter((r) => r.path.includes('/events'));
	if (polls[1].at - polls[0].at < 950)
		throw new Error('retried after ' + (polls[1].at - polls[0].at) + ' ms');
	equal(net.requests.at(-1).path, '/api/transfers/tr_1/end', 'end posted');
});

await check('in a chat with an agent, losing the connection is reported once, with backoff, and recovery once', async () => {
	let n = 0;
	const { d, callback, net } = desk(async (r) => {
		if (r.method === 'POST')
			return created();
		n++;
		if (n >= 2 && n <= 5)
			throw new TypeError('Failed to fetch');
		if (n === 6)
			return { status: 502, body: undefined };
		return { status: 200, body: { state: 'active', next: 1, poll_after_ms: 20,
			events: [{ seq: 1, type: 'agent_joined', agent: agentAna }] } };
	});
	await d.startChat(CONNECT, {});
	await until('recovered', () => n >= 8);
	await d.endChat();
	equal(callback.calls.filter((c) => c[0] === 'setErrorStatus').map((c) => [c[0], c[1].type, c[1].isDisconnected]),
		[['setErrorStatus', ErrorType.DISCONNECTED, true], ['setErrorStatus', ErrorType.DISCONNECTED, false]], 'status calls');
	const polls = net.requests.filter((r) => r.path.includes('/events'));
	const gaps = polls.slice(2, 7).map((r, i) => r.at - polls[i + 1].at);
	if (!(gaps[3] >= gaps[0]))
		throw new Error('no backoff: ' + gaps);
});

await check('a message is retried with the same client_message_id until stored, and is not sent twice', async () => {
	let tries = 0;
	const { d, callback, net } = desk(async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (r.path.endsWith('/messages')) {
			tries++;
			if (tries === 1)
				throw new TypeError('Failed to fetch');
			if (tries === 2)
				return { status: 503, body: { error: { code: 'unavailable', message: 'busy' } }, headers: { 'Retry-After': '0' } };
			return { status: 202, body: { seq: 3, id: 'm9' } };
		}
		return { status: 304 };
	});
	await d.startChat(CONNECT, {});
	await d.sendMessageToAgent({ input: { text: 'hello' } }, 'wc-msg-1');
	await d.endChat();
	const sends = net.requests.filter((r) => r.path.endsWith('/messages'));
	equal(sends.map((r) => r.body), Array(3).fill({ client_message_id: 'wc-msg-1', text: 'hello' }), 'attempts');
	equal(callback.calls.filter((c) => c[0] === 'setErrorStatus'), [], 'errors');
});

await check('a message refused for good reports USER_MESSAGE for that message and rejects', async () => {
	const { d, callback } = desk(async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (r.path.endsWith('/messages'))
			return { status: 409, body: { error: { code: 'transfer_ended', message: 'The chat has ended.' } } };
		return { status: 304 };
	});
	await d.startChat(CONNECT, {});
	let err = null;
	await d.sendMessageToAgent({ input: { text: 'late' } }, 'wc-2').catch((e) => { err = e; });
	await d.endChat();
	equal(err && err.code, 'transfer_ended', 'rejection');
	equal(callback.calls, [['setErrorStatus', { type: ErrorType.USER_MESSAGE, messageID: 'wc-2',
		logInfo: { code: 'transfer_ended', message: 'The chat has ended.' } }]], 'callbacks');
});

await check('no agent available: startChat reports CONNECTING with the admin\'s message and throws', async () => {
	const { d, callback, storage } = desk(async () => ({ status: 503,
		body: { error: { code: 'agents_unavailable', message: 'Our team is offline until 9am.' } } }));
	let err = null;
	await d.startChat(CONNECT, {}).catch((e) => { err = e; });
	equal(err && err.code, 'agents_unavailable', 'error code');
	equal(callback.calls, [['setErrorStatus', { type: ErrorType.CONNECTING, messageToUser: 'Our team is offline until 9am.',
		logInfo: { code: 'agents_unavailable', message: 'Our team is offline until 9am.' } }]], 'callbacks');
	equal(storage.map.size, 0, 'storage');
});

await check('after a reload, reconnect() resumes the same transfer from where it was read, in sessionStorage only', async () => {
	const storage = memoryStorage();
	const all = [{ seq: 1, type: 'agent_joined', agent: agentAna },
		{ seq: 2, type: 'message', from: 'agent', id: 'a', text: 'before reload', agent: agentAna },
		{ seq: 3, type: 'message', from: 'agent', id: 'b', text: 'during reload', agent: agentAna }];
	let visible = 2;
	const route = async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (r.path === '/api/transfers/tr_1')
			return { status: 200, body: { id: 'tr_1', state: 'active', next: 3, poll_after_ms: 20, events: all } };
		const after = Number(r.path.split('after=')[1] || 0);
		return { status: 200, body: { state: 'active', next: visible, poll_after_ms: 20, events: all.slice(after, visible) } };
	};
	const first = desk(route, { storage });
	await first.d.startChat(CONNECT, {});
	await until('first page read', () => first.callback.calls.length === 2);
	first.d.stopPolling();   // the page goes away
	const saved = JSON.parse(storage.map.get('deskbridge.transfer'));
	equal([saved.id, saved.secret, saved.next], ['tr_1', 's3cret', 2], 'saved state');
	visible = 3;
	const second = desk(route, { storage });
	equal(second.d.hasChatToResume(), true, 'hasChatToResume');
	equal(await second.d.reconnect(), true, 'reconnect()');
	await sleep(60);
	await second.d.endChat();
	equal(second.callback.calls, [['sendMessageToUser', 'during reload', 'agent-7']], 'after reconnect');
	equal(second.net.requests[0].headers.Authorization, 'Bearer s3cret', 'resumed with the secret');
	const third = desk(async () => ({ status: 404, body: { error: { code: 'not_found', message: 'no' } } }), { storage });
	equal(await third.d.reconnect(), false, 'nothing to resume after the end');
});

await check('a tab hidden for long stops polling, and polls again at once when shown', async () => {
	const document = stubDocument();
	const { d, net } = desk(async (r) => (r.method === 'POST' ? created() : { status: 304 }),
		{ document, stopWhenHiddenMs: 50, hiddenPollMs: 20 });
	await d.startChat(CONNECT, {});
	await sleep(30);
	document.hidden = true;
	document.fire();
	await sleep(150);
	const whileHidden = net.requests.length;
	await sleep(150);
	equal(net.requests.length, whileHidden, 'requests while hidden for long');
	document.hidden = false;
	document.fire();
	await until('poll after shown', () => net.requests.length > whileHidden, 500);
	await d.endChat();
});

await check('typing is sent on change, not on every keystroke; read is sent once per agent message', async () => {
	const { d, net } = desk(async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (r.path.includes('/events'))
			return { status: 200, body: { state: 'active', next: 1, poll_after_ms: 1000,
				events: [{ seq: 1, type: 'message', from: 'agent', id: 'a', text: 'hi', agent: agentAna }] } };
		return { status: 204 };
	});
	await d.startChat(CONNECT, {});
	await until('message', () => net.requests.some((r) => r.path.includes('/events')));
	await sleep(20);
	for (const on of [true, true, true, false, false])
		await d.userTyping(on);
	await d.userReadMessages();
	await d.userReadMessages();
	const sent = net.requests.filter((r) => /typing|read/.test(r.path)).map((r) => [r.path.split('/').pop(), r.body]);
	equal(sent, [['typing', { typing: true }], ['typing', { typing: false }], ['read', { seq: 1 }]], 'requests');
	d.stopPolling();
});

/* console.warn while fn runs: where the library puts what the visitor is not told. */
async function warnings(fn) {
	const seen = [];
	const original = console.warn;
	console.warn = (...args) => { seen.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')); };
	try {
		await fn();
	} finally {
		console.warn = original;
	}
	return seen;
}

await check('areAnyAgentsOnline maps availability to true, false or unknown (null: the host offers the chat)', async () => {
	const answers = [{ status: 200, body: { agents_online: true, count: 2 } }, { status: 200, body: { agents_online: false, count: 0 } },
		{ status: 503, body: { error: { code: 'not_configured', message: 'The Support API credentials are not set' } } },
		{ status: 500, body: undefined }];
	const got = [];
	const warned = await warnings(async () => {
		for (const a of answers)
			got.push(await desk(async () => a).d.areAnyAgentsOnline(CONNECT));
		got.push(await desk(async () => { throw new TypeError('offline'); }).d.areAnyAgentsOnline(CONNECT));
	});
	equal(got, [true, false, null, null, null], 'answers');
	if (!warned.some((w) => /Support API credentials/.test(w)))
		throw new Error('the unknown availability\'s reason is not in the console: ' + JSON.stringify(warned));
});

await check('no agent: the admin\'s message becomes the connect_to_agent item\'s agent_unavailable message; transfers off is told the same way, its reason only in the console', async () => {
	const connect = () => ({ output: { generic: [{ response_type: 'text', text: 'Let me get someone' },
		{ response_type: 'connect_to_agent', agent_unavailable: { message: 'The skill says nobody is in.' } }] } });
	const off = connect(), none = connect(), silent = connect();
	const warned = await warnings(async () => {
		equal(await desk(async () => ({ status: 200, body: { agents_online: false, count: 0, checked_at: null,
			reason: 'transfers_disabled', message: 'We are closed until Monday.' } })).d.areAnyAgentsOnline(off), false, 'off');
		equal(await desk(async () => ({ status: 200, body: { agents_online: false, count: 0, checked_at: '2026-12-01T09:00:00Z',
			reason: 'no_agents_online', message: 'Back at 9.' } })).d.areAnyAgentsOnline(none), false, 'none');
		equal(await desk(async () => ({ status: 200, body: { agents_online: false, count: 0 } }),
			{ strings: { agentsUnavailable: 'Nadie disponible.' } }).d.areAnyAgentsOnline(silent), false, 'no message');
	});
	equal([off, none, silent].map((m) => m.output.generic[1].agent_unavailable.message),
		['We are closed until Monday.', 'Back at 9.', 'Nadie disponible.'], 'what the host shows');
	equal(off.output.generic[0], { response_type: 'text', text: 'Let me get someone' }, 'other items untouched');
	if (!warned.some((w) => /transfers_enabled/.test(w)))
		throw new Error('transfers off is not explained in the console: ' + JSON.stringify(warned));
});

await check('a refused start tells the visitor a short text from the strings (replaceable), never the API\'s; the API\'s goes to the console', async () => {
	const refusals = [
		[401, { code: 'invalid_token', field: 'token', message: 'Field "token" is invalid: the site\'s token is required.' }, {}, Strings.notRecognized],
		[503, { code: 'transfers_disabled', message: 'Transfers to live agents are turned off. Reason: the admin has not turned them on.' }, {}, Strings.agentsUnavailable],
		[429, { code: 'rate_limited', message: 'This visitor already has 3 open chats with agents (the limit).' }, {}, Strings.tooManyRequests],
		[422, { code: 'invalid_field', field: 'visitor.email', message: 'Field "visitor.email" is invalid: it is not an email address.' },
			{ strings: { couldNotConnect: 'Lo sentimos, no pudimos conectarte.' } }, 'Lo sentimos, no pudimos conectarte.'],
	];
	for (const [status, error, options, shown] of refusals) {
		let d, callback;
		const warned = await warnings(async () => {
			({ d, callback } = desk(async () => ({ status, body: { error } }), options));
			await d.startChat(CONNECT, {}).catch(() => {});
		});
		equal(callback.calls.map((c) => [c[0], c[1].type, c[1].messageToUser]), [['setErrorStatus', ErrorType.CONNECTING, shown]],
			error.code);
		if (!warned.some((w) => w.includes(error.message)))
			throw new Error(error.code + ': the API\'s message is not in the console');
	}
	const { d, callback } = desk(async (r) => (r.path === '/api/availability'
		? { status: 200, body: { agents_online: false, count: 0, reason: 'transfers_disabled', message: 'Closed today.' } }
		: { status: 503, body: { error: { code: 'transfers_disabled', message: 'Transfers to live agents are turned off.' } } }));
	await warnings(async () => {
		await d.areAnyAgentsOnline(CONNECT);
		await d.startChat(CONNECT, {}).catch(() => {});
	});
	equal(callback.calls[0][1].messageToUser, 'Closed today.', 'the admin\'s message after a race with the admin');
	for (const text of Object.values(Strings))
		if (/deskbridge|admin|field|token|transfers_|zendesk|api/i.test(text))
			throw new Error('a developer\'s word in a visitor text: ' + text);
});

await check('an agent Zendesk gives no picture shows the admin\'s avatar when one is set; one with a picture keeps it', async () => {
	for (const avatarSet of [true, false]) {
		const { d, callback, net } = desk(async (r) => {
			if (r.method === 'POST')
				return created();
			if (r.path === '/api/avatar')
				return avatarSet ? { status: 200 } : { status: 404 };
			return { status: 200, body: { state: 'active', next: 3, poll_after_ms: 20, events: [
				{ seq: 1, type: 'agent_joined', agent: { id: 'Ana', name: 'Ana', avatar_url: null } },
				{ seq: 2, type: 'transferred', agent: agentAna },
				{ seq: 3, type: 'agent_joined', agent: agentAna }] } };
		});
		await d.startChat(CONNECT, {});
		await until('joined', () => callback.calls.length >= 3);
		await d.endChat();
		const ana = avatarSet ? { id: 'Ana', nickname: 'Ana', profile_picture_url: 'https://support.example/api/avatar' } : { id: 'Ana', nickname: 'Ana' };
		const zendeskAna = { id: 'agent-7', nickname: 'Ana', profile_picture_url: 'https://acme.zendesk.com/ana.png' };
		equal(callback.calls.slice(0, 3), [['agentJoined', ana], ['beginTransferToAnotherAgent', zendeskAna], ['agentJoined', zendeskAna]],
			'profiles with the avatar ' + (avatarSet ? 'set' : 'unset'));
		equal(net.requests.filter((r) => r.path === '/api/avatar').map((r) => r.method), ['HEAD'], 'asked once');
	}
});

await check('the visitor starting to type fetches what happened meanwhile at once, so it is shown before their message', async () => {
	let polls = 0;
	const { d } = desk(async (r) => {
		if (r.method === 'POST')
			return r.path.endsWith('/typing') ? { status: 204 } : created({ poll_after_ms: 60000 });
		polls++;
		return { status: 200, body: { state: 'waiting', next: 0, poll_after_ms: 60000, events: [] } };
	});
	await d.startChat(CONNECT, {});
	await until('first poll', () => polls === 1);
	await d.userTyping(true);
	await until('a poll on typing', () => polls === 2, 1000);
	await d.userTyping(false);
	await sleep(50);
	equal(polls, 2, 'polls (none on stopping)');
	d.stopPolling();
});

await check('endChat posts /end with the transfer\'s secret, which deskbridge refuses without', async () => {
	const { d, net, storage } = desk(async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (r.path.endsWith('/end'))
			return { status: 200, body: { state: 'ended' } };
		return { status: 304 };
	});
	await d.startChat(CONNECT, {});
	await d.endChat({});
	const end = net.requests.filter((r) => r.path === '/api/transfers/tr_1/end');
	equal(end.map((r) => [r.headers.Authorization, r.status]), [['Bearer ' + SECRET, 200]], 'end requests');
	equal([...storage.map.keys()], [], 'storage after the end');
});

await check('while queued, failed polls are not reported; an outage past queuedGiveUpMs is CONNECTING, and ends the transfer once reachable', async () => {
	let online = true;
	const { d, callback, net } = desk(async (r) => {
		if (r.path === '/api/transfers')
			return created();
		if (!online)
			throw new TypeError('Failed to fetch');
		if (r.path.endsWith('/end'))
			return { status: 200, body: { state: 'ended' } };
		return { status: 200, body: { state: 'waiting', next: 0, poll_after_ms: 20, events: [] } };
	}, { queuedGiveUpMs: 300 });
	await d.startChat(CONNECT, {});
	await until('a poll', () => net.requests.some((r) => r.path.includes('/events')));
	online = false;
	await until('given up', () => callback.calls.length > 0, 3000);
	equal(callback.calls.map((c) => [c[0], c[1].type, typeof c[1].messageToUser]), [['setErrorStatus', ErrorType.CONNECTING, 'string']], 'calls');
	const failedPolls = net.requests.filter((r) => r.path.includes('/events') && r.status === undefined).length;
	if (failedPolls < 2)
		throw new Error('gave up after ' + failedPolls + ' failed polls');
	online = true;
	await until('ended on deskbridge', () => net.requests.some((r) => r.path.endsWith('/end') && r.status === 200), 3000);
	const polls = net.requests.filter((r) => r.path.includes('/events')).length;
	await sleep(100);
	equal(net.requests.filter((r) => r.path.includes('/events')).length, polls, 'polls after giving up');
});

await check('Carbon AI Chat, told apart by its factory parameters, gets its own queue fields and user_type', async () => {
	const callback = stubCallback();
	const net = scriptedFetch(async (r) => (r.path === '/api/transfers' ? created() : r.path.includes('/events')
		? { status: 200, body: { state: 'active', next: 2, poll_after_ms: 1000, events: [
			{ seq: 1, type: 'queued', position: 3, estimated_wait_s: 150 },
			{ seq: 2, type: 'agent_joined', agent: agentAna }] } } : { status: 200, body: { state: 'ended' } }));
	const d = await createServiceDeskFactory({ baseUrl: 'https://support.example', fetch: net.fetch, storage: memoryStorage(),
		document: null, window: null })({ callback, instance: null, persistedState: undefined });
	await d.startChat(CONNECT, {});
	await until('joined', () => callback.calls.some((c) => c[0] === 'agentJoined'));
	await d.endChat({});
	equal(callback.calls, [['updateAgentAvailability', { positionInQueue: 3, estimatedWaitTime: 3 }],
		['agentJoined', { id: 'agent-7', nickname: 'Ana', profile_picture_url: 'https://acme.zendesk.com/ana.png', user_type: 'human' }]], 'calls');
});

await check('files: offered once an agent joins; refused early by type and size; each upload reported; agent media shown as an image or a link, from Zendesk hosts only, never as HTML', async () => {
	const image = 'https://acme.zendesk.com/sc/attachments/v2/a/p.png';
	const pdf = 'https://acme.zendesk.com/sc/attachments/v2/b/inv (1).pdf';
	const media = (kind, url, alt_text) => ({ kind, url, media_type: null, alt_text });
	const pages = [{ state: 'active', next: 5, poll_after_ms: 20, events: [
		{ seq: 1, type: 'agent_joined', agent: agentAna },
		{ seq: 2, type: 'message', from: 'agent', id: 'm1', text: '', agent: agentAna, media: media('image', image, 'p.png') },
		{ seq: 3, type: 'message', from: 'agent', id: 'm2', text: 'Your invoice', agent: agentAna,
			media: media('file', pdf, '<img src=x onerror=alert(1)>](javascript:x)') },
		{ seq: 4, type: 'message', from: 'agent', id: 'm3', text: 'look', agent: agentAna, media: media('image', 'https://evil.example/x.png', null) },
		{ seq: 5, type: 'message', from: 'agent', id: 'm4', text: '', agent: agentAna, media: media('image', 'http://acme.zendesk.com/x.png', null) },
	] }];
	const uploads = [];
	const { d, callback } = desk(async (req) => {
		if (req.path === '/api/transfers' && req.method === 'POST')
			return created();
		if (req.path.endsWith('/files')) {
			uploads.push(req.body.get('file'));
			return uploads.length === 1 ? { status: 201, body: { kind: 'image' } }
				: { status: 415, body: { error: { code: 'unsupported_media_type', message: 'not an image' } } };
		}
		if (req.path.startsWith('/api/transfers/tr_1/events'))
			return { status: 200, body: pages.shift() || { state: 'active', next: 5, poll_after_ms: 20, events: [] } };
		return { status: 204 };
	});
	callback.updateCapabilities = (c) => { callback.calls.push(['updateCapabilities', c]); };
	callback.setFileUploadStatus = (...a) => { callback.calls.push(['setFileUploadStatus', ...a]); };
	await d.startChat(CONNECT);
	await until('the agent media', () => callback.calls.filter((c) => c[0] === 'sendMessageToUser').length >= 3);
	await sleep(60);
	const names = callback.calls.map((c) => c[0]);
	equal(names.slice(names.indexOf('agentJoined'), names.indexOf('agentJoined') + 2), ['agentJoined', 'updateCapabilities'], 'files offered after the join');
	equal(callback.calls.find((c) => c[0] === 'updateCapabilities')[1], { allowFileUploads: true, allowMultipleFileUploads: true,
		allowedFileUploadTypes: 'image/png,.png,image/jpeg,.jpg,.jpeg,image/gif,.gif,application/pdf,.pdf,text/plain,.txt' }, 'capabilities');
	equal(callback.calls.filter((c) => c[0] === 'sendMessageToUser').map((c) => c.slice(1)), [
		[{ output: { generic: [{ response_type: 'image', source: image, alt_text: 'p.png' }] } }, 'agent-7'],
		[{ output: { generic: [{ response_type: 'text', text: 'Your invoice' }, { response_type: 'text',
			text: '[\\<img src=x onerror=alert\\(1\\)\\>\\]\\(javascript:x\\)](https://acme.zendesk.com/sc/attachments/v2/b/inv%20%281%29.pdf)' }] } }, 'agent-7'],
		['look', 'agent-7'],
	], 'an image item, a link whose label is literal text, and the text alone when the address is not Zendesk\'s');

	d.filesSelectedForUpload([{ id: 'f1', file: { name: 'setup.exe', type: 'application/x-msdownload', size: 10 } },
		{ id: 'f2', file: { name: 'big.png', type: 'image/png', size: 11 * 1024 * 1024 } },
		{ id: 'f3', file: { name: 'ok.PNG', type: '', size: 10 } }]);
	equal(callback.calls.filter((c) => c[0] === 'setFileUploadStatus'), [
		['setFileUploadStatus', 'f1', true, Strings.fileTypeNotAllowed], ['setFileUploadStatus', 'f2', true, Strings.fileTooLarge]],
	'refused before sending, by type and by size');
	const png = new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'ok.png', { type: 'image/png' });
	await d.sendMessageToAgent({ input: { text: '' } }, 'mid-1', { filesToUpload: [{ id: 'f4', file: png }, { id: 'f5', file: png }] });
	await until('both uploads settled', () => callback.calls.filter((c) => c[0] === 'setFileUploadStatus').length >= 4);
	equal(callback.calls.filter((c) => c[0] === 'setFileUploadStatus').slice(2).sort(), [
		['setFileUploadStatus', 'f4'], ['setFileUploadStatus', 'f5', true, Strings.fileTypeNotAllowed]], 'each upload reported on its own');
	equal([uploads.length, uploads[0].name, uploads[0].size], [2, 'ok.png', 4], 'the file itself went up as multipart');
	await d.endChat();
});

await check('the classic-script build is the module, regenerated', async () => {
	const regenerated = execFileSync('sh', [path.join(SRCDIR, 'tools', 'webchat-classic.sh'), LIBRARY], { encoding: 'utf8' });
	const committed = readFileSync(path.join(SRCDIR, 'www', 'webchat', 'deskbridge-webchat.classic.js'), 'utf8');
	if (regenerated !== committed)
		throw new Error('www/webchat/deskbridge-webchat.classic.js is stale: run tools/webchat-classic.sh (see its header)');
	const g = {};
	new Function('window', committed)(g);
	equal(Object.keys(g.DeskbridgeWebChat).sort(), ['Defaults', 'DeskbridgeError', 'DeskbridgeServiceDesk', 'ErrorType',
		'Strings', 'createCarbonServiceDeskFactory', 'createServiceDeskFactory'], 'exports');
});

await check('availability() and leaveMessage(): the offer is read, one client_request_id survives a lost answer, and the ticket is followed until Zendesk has it', async () => {
	let posts = 0, reads = 0;
	const { d, net } = desk(async (req) => {
		if (req.path === '/api/availability')
			return { status: 200, body: { agents_online: false, count: 0, checked_at: null, reason: 'closed',
				message: 'Closed until 9.', leave_message: true } };
		if (req.method === 'POST' && req.path === '/api/tickets') {
			if (++posts === 1)
				throw new TypeError('Failed to fetch');   /* the first answer is lost */
			return { status: 202, body: { id: 'tk_1', secret: 'tks', state: 'pending', ticket_id: null, poll_after_ms: 10 } };
		}
		if (req.path === '/api/tickets/tk_1') {
			if (req.headers.Authorization !== 'Bearer tks')
				return { status: 401, body: { error: { code: 'unauthenticated', message: 'no' } } };
			return { status: 200, body: ++reads < 2 ? { id: 'tk_1', state: 'pending', ticket_id: null, poll_after_ms: 10 }
				: { id: 'tk_1', state: 'created', ticket_id: '42', poll_after_ms: null } };
		}
		return { status: 404, body: { error: { code: 'not_found', message: 'no' } } };
	});
	equal(await d.availability(), { agentsOnline: false, count: 0, reason: 'closed', message: 'Closed until 9.', leaveMessage: true }, 'availability');
	equal(await d.areAnyAgentsOnline(), false, 'areAnyAgentsOnline');
	equal(d.leaveMessageOffered, true, 'leaveMessageOffered');
	const left = await d.leaveMessage({ message: 'Call me', name: 'Mia', email: 'mia@shop.example', pageUrl: 'https://shop.example/' });
	equal(left, { id: 'tk_1', state: 'created', ticketId: '42' }, 'the result');
	const sent = net.requests.filter((r) => r.method === 'POST' && r.path === '/api/tickets');
	equal(sent.length, 2, 'POSTs');
	equal(sent[0].body.client_request_id === sent[1].body.client_request_id && !!sent[0].body.client_request_id, true, 'one client_request_id');
	equal(sent[1].body, { message: 'Call me', history: [{ from: 'user', text: 'refund?', time: null }, { from: 'assistant', text: 'Let me get someone', time: null }],
		page_url: 'https://shop.example/', client_request_id: sent[0].body.client_request_id, visitor: { name: 'Mia', email: 'mia@shop.example' } }, 'the body');
});

await check('leaveMessage() rejects with the API\'s code when deskbridge refuses it', async () => {
	const { d } = desk(async () => ({ status: 403, body: { error: { code: 'tickets_disabled', message: 'Leaving a message is turned off.' } } }));
	let err = null;
	try {
		await d.leaveMessage({ message: 'Hi', name: 'Mia', email: 'mia@shop.example' });
	} catch (e) {
		err = e;
	}
	equal([err && err.name, err && err.code, err && err.status], ['DeskbridgeError', 'tickets_disabled', 403], 'the rejection');
});

done();
