// bench/webchat_poll_cost.mjs — run by bench/webchat_poll_cost.py (see there): the Web Chat
// library as four visitors against a real deskbridge, counting their requests.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const BASE = process.env.DESKBRIDGE_BASE_URL;
const FAKE = process.env.FAKE_ZENDESK_URL;
const SECONDS = Number(process.env.BENCH_SECONDS || 60);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'deskbridge-bench-'));
copyFileSync(path.join(process.env.DESKBRIDGE_SRCDIR, 'www', 'webchat', 'deskbridge-webchat.js'),
	path.join(tmp, 'deskbridge-webchat.mjs'));
const { createServiceDeskFactory } = await import(pathToFileURL(path.join(tmp, 'deskbridge-webchat.mjs')));
rmSync(tmp, { recursive: true });

const post = (url, body) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' },
	body: JSON.stringify(body) }).then((r) => r.json());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function visitor(name, hidden) {
	const counts = { total: 0 };
	const storage = new Map();
	const listeners = [];
	const document = { hidden: false, addEventListener: (t, fn) => listeners.push(fn) };
	const desk = createServiceDeskFactory({
		baseUrl: BASE,
		visitor: { name, email: name.replace(/\W+/g, '.') + '@bench.example' },
		storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v), removeItem: (k) => storage.delete(k) },
		document, window: null,
		fetch: (url, init) => {
			counts.total++;
			const kind = new URL(url).pathname.split('/').pop();
			counts[kind] = (counts[kind] || 0) + 1;
			return fetch(url, init);
		},
	})({ callback: {} });
	const hide = () => { document.hidden = true; for (const fn of listeners) fn(); };
	return { name, desk, counts, hidden, hide };
}

async function conversationOf(desk) {
	const id = desk.t.id;
	for (;;) {
		const convs = (await fetch(FAKE + '/_fake/conversations').then((r) => r.json())).conversations;
		const c = convs.find((x) => x.metadata && x.metadata.deskbridge_transfer_id === id && x.control);
		if (c)
			return c.id;
		await sleep(100);
	}
}

const CONNECT = { output: { generic: [{ response_type: 'connect_to_agent', message_to_human_agent: 'bench' }] } };
const visitors = [visitor('idle waiting visitor'), visitor('idle chat (nobody writes)'),
	visitor('lively chat (a message each way every 10 s)'), visitor('chat in a hidden tab', true)];
for (const v of visitors) {
	await v.desk.startChat(CONNECT, {});
	v.cid = await conversationOf(v.desk);
	await post(FAKE + '/_fake/agent', { conversation: v.cid, action: 'accept' });
	if (v !== visitors[0])
		await post(FAKE + '/_fake/agent', { conversation: v.cid, action: 'says', text: 'Hi, I am Ana' });
}
await sleep(3000);   // every visitor has seen its first events and settled on its pace
for (const v of visitors) {
	for (const k of Object.keys(v.counts))
		v.counts[k] = 0;
	if (v.hidden)
		v.hide();
}
const lively = visitors[2];
const started = Date.now();
let round = 0;
while (Date.now() - started < SECONDS * 1000) {
	await sleep(Math.min(10000, SECONDS * 1000 - (Date.now() - started)));
	if (Date.now() - started >= SECONDS * 1000)
		break;
	round++;
	await post(FAKE + '/_fake/agent', { conversation: lively.cid, action: 'says', text: 'agent line ' + round });
	await lively.desk.userTyping(true);
	await lively.desk.sendMessageToAgent({ input: { text: 'visitor line ' + round } }, 'bench-' + round);
	await lively.desk.userReadMessages();
}
const minutes = (Date.now() - started) / 60000;
console.log(`requests per minute per visitor, measured over ${(minutes * 60).toFixed(0)} s:`);
for (const v of visitors) {
	const detail = Object.entries(v.counts).filter(([k]) => k !== 'total').map(([k, n]) => `${k} ${(n / minutes).toFixed(1)}`).join(', ');
	console.log(`  ${v.name.padEnd(46)} ${(v.counts.total / minutes).toFixed(1).padStart(6)}   (${detail})`);
}
const idle = visitors[0].counts.total / minutes;
for (const v of visitors)
	await v.desk.endChat();
console.log(`idle waiting visitor: ${idle.toFixed(1)} requests/min, target at most 30: ${idle <= 30 ? 'met' : 'NOT met'}`);
process.exit(0);
