// tests/webchat/deskbridge-env.mjs — what the Node scripts run by run_browser_tests.py
// share: deskbridge set up against the fake Zendesk through the admin API, and the fake's
// side of a chat over its /_fake/ control routes (tests/fake_zendesk.py lists them).
import { assert, waitUntil } from '../tap.mjs';

export const BASE = process.env.DESKBRIDGE_BASE_URL;
export const FAKE = process.env.FAKE_ZENDESK_URL;
const env = (k) => process.env['FAKE_ZENDESK_' + k];

export async function json(method, url, body, headers = {}) {
	const r = await fetch(url, { method, headers: { 'Content-Type': 'application/json', ...headers },
		body: body === undefined ? undefined : JSON.stringify(body) });
	const text = await r.text();
	return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

/* The headers of an admin session: its cookie and CSRF token. */
export async function adminSession() {
	const login = await fetch(BASE + '/api/setup/session', { method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ password: process.env.DESKBRIDGE_ADMIN_PASSWORD }) });
	assert(login.status === 200, 'login: ' + login.status);
	const csrf = (await login.json()).csrf_token;
	return { Cookie: login.headers.get('set-cookie').split(';')[0], 'X-CSRF-Token': csrf };
}

/* Only the given part of the admin config. */
export async function patchConfig(patch) {
	const r = await json('PATCH', BASE + '/api/setup/config', patch, await adminSession());
	assert(r.status === 200, 'PATCH config: ' + r.status + ' ' + JSON.stringify(r.body));
}

/* extra: more of the admin config, e.g. looser limits for a test that makes many transfers. */
export async function configure(extra = {}) {
	const r = await json('PATCH', BASE + '/api/setup/config', {
		transfers_enabled: true,
		zendesk: { api_base: FAKE, api_user: env('API_USER'), api_token: env('API_TOKEN'),
			messaging: { app_id: env('APP_ID'), key_id: env('KEY_ID'), key_secret: env('KEY_SECRET'),
				webhook_secret: env('WEBHOOK_SECRET') } },
		...extra,
	}, await adminSession());
	assert(r.status === 200, 'PATCH config: ' + r.status + ' ' + JSON.stringify(r.body));
}

export const conversations = async () => (await json('GET', FAKE + '/_fake/conversations')).body.conversations;
export const conversation = async (id) => (await conversations()).find((c) => c.id === id);
export const visitorTexts = (c) => c.messages.filter((m) => m.author.type === 'user').map((m) => m.content.text);

export async function agent(cid, action, extra = {}) {
	const r = await json('POST', FAKE + '/_fake/agent', { conversation: cid, action, ...extra });
	assert(r.status === 200 && r.body.status === 200, `agent ${action}: ${JSON.stringify(r.body)}`);
}

export async function agentWorkspaceId() {
	return (await json('GET', FAKE + '/_fake/switchboard')).body.switchboardIntegrations
		.find((i) => i.integrationType === 'zd:agentWorkspace').id;
}

/* The conversation deskbridge made in Zendesk for a transfer names it in its metadata. */
const ofTransfer = (id) => (c) => c.metadata && c.metadata.deskbridge_transfer_id === id;

/* ...once the agent workspace has it. */
export async function conversationOf(transferId) {
	const workspace = await agentWorkspaceId();
	return waitUntil('the conversation of ' + transferId + ' with the agent workspace', async () =>
		(await conversations()).find((c) => ofTransfer(transferId)(c) && c.control === workspace));
}

/* The visitor has gone: the transfer is ended on deskbridge, and Zendesk has no
 * conversation of it left with the agent workspace. */
export async function leftNothingOpen(transfer) {
	const workspace = await agentWorkspaceId();
	await waitUntil(`transfer ${transfer.id} ended on deskbridge`, async () => {
		const r = await json('GET', BASE + '/api/transfers/' + transfer.id, undefined, { Authorization: 'Bearer ' + transfer.secret });
		return r.status === 200 && r.body.state === 'ended';
	}, 20000);
	await waitUntil(`the conversation of ${transfer.id} released by the agent workspace`, async () => {
		const c = (await conversations()).find(ofTransfer(transfer.id));
		return !c || c.control !== workspace;
	}, 20000);
}
