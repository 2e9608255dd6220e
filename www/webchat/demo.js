/* www/webchat/demo.js — a stand-in for IBM's Web Chat: a chat window with a scripted bot
 * that hands the visitor to a Zendesk agent through deskbridge-webchat.js, calling it
 * exactly as Web Chat does (serviceDeskFactory({callback}), startChat, sendMessageToAgent,
 * reconnect after a reload...) and implementing Web Chat's callback object with Web
 * Chat's rules (the mock host of tests/webchat/mock-host.mjs names their sources):
 *   - callbacks count only while a chat runs (connecting or with an agent);
 *   - while connecting, a DISCONNECTED is a CONNECTING error, which ends the chat;
 *   - after a reload, reconnect() is called only if an agent had joined: a chat still
 *     connecting is over, and asking for an agent again starts it anew;
 *   - the visitor can cancel while connecting, and end the chat once an agent joined.
 *   - with an agent, the visitor may attach files once the service desk allows them
 *     (updateCapabilities), each reported with setFileUploadStatus.
 * Like Web Chat, it keeps its own transcript in sessionStorage. Every text is set as text;
 * an agent's image or file link is built as an element, never from markup. */
import { createServiceDeskFactory, ErrorType } from './deskbridge-webchat.js';

const STORE = 'deskbridge.demo';
const WANTS_AGENT = /\b(agent|human|person|someone)\b/i;
const $ = (id) => document.getElementById(id);

const state = load() || { mode: 'bot', peer: 'Bot', messages: [] };

function load() {
	try {
		return JSON.parse(sessionStorage.getItem(STORE));
	} catch (e) {
		return null;
	}
}

function save() {
	try {
		sessionStorage.setItem(STORE, JSON.stringify(state));
	} catch (e) {
		/* the demo goes on; a reload starts over */
	}
}

function randomId() {
	return crypto.randomUUID ? crypto.randomUUID() :
		Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/* ---- the chat window ------------------------------------------------------------------ */

function renderMessage(m) {
	const li = document.createElement('li');
	li.className = 'msg ' + m.kind + (m.failed ? ' failed' : '');
	li.dataset.id = m.id;
	if (m.kind === 'agent')
		li.append(avatarOf(m));
	if (m.kind !== 'status') {
		const who = document.createElement('span');
		who.className = 'who';
		who.textContent = m.who;
		li.append(who);
	}
	const text = document.createElement('span');
	text.className = 'text';
	text.textContent = m.text;
	li.append(text);
	for (const item of m.media || [])
		li.append(mediaOf(item));
	if (m.state) {
		const st = document.createElement('span');
		st.className = 'state';
		st.textContent = m.state;
		li.append(st);
	}
	return li;
}

/* The agent's picture as Web Chat shows it beside their messages: only deskbridge's own,
 * such as the admin's avatar (/api/avatar). A picture elsewhere (Zendesk's, which may be
 * on a host this page's CSP keeps out) shows as the agent's initial. */
function avatarOf(m) {
	let el;
	if (m.avatar && new URL(m.avatar, location.href).origin === location.origin) {
		el = document.createElement('img');
		el.src = m.avatar;
		el.alt = '';
	} else {
		el = document.createElement('span');
		el.textContent = (m.who || '?').slice(0, 1).toUpperCase();
	}
	el.className = 'avatar';
	return el;
}

/* An agent's image, or a link to their file. This page's CSP lets in Zendesk's media
 * hosts; an image that still cannot load (a private attachment, or a copy of this page
 * whose site's CSP keeps the host out) becomes a link to itself, which the visitor can
 * open. */
function linkTo(href, label) {
	const a = document.createElement('a');
	a.className = 'media-link';
	a.href = href;
	a.target = '_blank';
	a.rel = 'noopener noreferrer';
	a.textContent = label;
	return a;
}

function mediaOf(item) {
	if (item.type !== 'image')
		return linkTo(item.href, item.label);
	const img = document.createElement('img');
	img.className = 'media';
	img.alt = item.label;
	img.addEventListener('error', () => img.replaceWith(linkTo(item.href, item.label)), { once: true });
	/* It grows the list once loaded: keep the latest message in view. */
	img.addEventListener('load', () => { $('messages').scrollTop = $('messages').scrollHeight; }, { once: true });
	img.src = item.href;
	return img;
}

/* The items of an agent's message as the library gives them (docs: README, Web Chat
 * integration): text, an image item, or a text item that is one markdown link. */
const MARKDOWN_LINK = /^\[((?:\\.|[^\\\]])*)\]\((https:\/\/[^\s()]+)\)$/;
function itemsOf(message) {
	if (typeof message === 'string')
		return { text: message, media: [] };
	const text = [], media = [];
	for (const g of (message.output && message.output.generic) || []) {
		const link = g.response_type === 'text' && typeof g.text === 'string' ? MARKDOWN_LINK.exec(g.text) : null;
		if (g.response_type === 'image' && /^https:\/\//.test(g.source))
			media.push({ type: 'image', href: g.source, label: g.alt_text || 'image' });
		else if (link)
			media.push({ type: 'link', href: link[2], label: link[1].replace(/\\(.)/g, '$1') });
		else if (g.text)
			text.push(g.text);
	}
	return { text: text.join('\n'), media };
}

function render() {
	const list = $('messages');
	list.replaceChildren(...state.messages.map(renderMessage));
	list.scrollTop = list.scrollHeight;
	$('peer').textContent = state.peer;
	$('end').hidden = state.mode !== 'agent';
	$('cancel').hidden = state.mode !== 'connecting';
	$('attach').hidden = !(state.mode === 'agent' && state.files);
}

function add(kind, who, text, extra) {
	const m = Object.assign({ id: randomId(), kind, who, text, time: new Date().toISOString() }, extra || {});
	state.messages.push(m);
	save();
	render();
	return m;
}

function update(id, changes) {
	const m = state.messages.find((x) => x.id === id);
	if (m) {
		Object.assign(m, changes);
		save();
		render();
	}
}

const status = (text) => add('status', '', text);
const bot = (text) => add('bot', 'Bot', text);
const chatRunning = () => state.mode === 'connecting' || state.mode === 'agent';

function backToBot() {
	state.mode = 'bot';
	state.files = false;
	state.peer = 'Bot';
	$('typing').hidden = true;
	$('connection').hidden = true;
	save();
	render();
}

/* ---- Web Chat's callback object, as the service desk sees it -------------------------- */

/* Outside a running chat, Web Chat drops what the service desk says. */
function whileChatting(handlers) {
	const guarded = {};
	for (const [name, fn] of Object.entries(handlers))
		guarded[name] = (...args) => (chatRunning() ? fn(...args) : undefined);
	return guarded;
}

const callback = whileChatting({
	updateAgentAvailability(a) {
		if (a.estimated_wait_time != null)
			status('Current wait time is about ' + a.estimated_wait_time + ' minute(s).');
		else if (a.position_in_queue != null)
			status('You are number ' + a.position_in_queue + ' in line.');
		else
			status('Waiting for an agent…');
	},
	agentJoined(profile) {
		state.mode = 'agent';
		state.peer = profile.nickname;
		state.avatar = profile.profile_picture_url || null;
		$('connection').hidden = true;
		status(profile.nickname + ' joined the chat.');
	},
	agentLeftChat() {
		status(state.peer + ' left the chat.');
	},
	async agentEndedChat() {
		status(state.peer + ' ended the chat.');
		backToBot();
	},
	agentTyping(isTyping) {
		$('typing').textContent = state.mode === 'agent' ? state.peer + ' is typing…' : 'An agent is typing…';
		$('typing').hidden = !isTyping;
	},
	sendMessageToUser(message) {
		const { text, media } = itemsOf(message);
		$('typing').hidden = true;
		add('agent', state.peer, text, { avatar: state.avatar, media });
		if (!document.hidden)
			desk.userReadMessages();
	},
	agentReadMessages() {
		for (const m of state.messages)
			if (m.kind === 'user' && m.state === 'Sent')
				m.state = 'Seen';
		save();
		render();
	},
	updateCapabilities(c) {
		state.files = !!c.allowFileUploads;
		$('file').accept = c.allowedFileUploadTypes || '';
		$('file').multiple = !!c.allowMultipleFileUploads;
		save();
		render();
	},
	setFileUploadStatus(fileID, isError, errorMessage) {
		update(fileID, isError ? { failed: true, state: errorMessage || 'Not sent' } : { state: 'Sent' });
	},
	beginTransferToAnotherAgent(profile) {
		status(profile ? 'Transferring you to ' + profile.nickname + '…' : 'Transferring you to another agent…');
	},
	setErrorStatus(info) {
		if (info.type === ErrorType.DISCONNECTED && info.isDisconnected && state.mode === 'connecting')
			info = { type: ErrorType.CONNECTING };
		if (info.type === ErrorType.DISCONNECTED) {
			$('connection').textContent = 'Reconnecting…';
			$('connection').hidden = !info.isDisconnected;
			if (!info.isDisconnected)
				status('Connected again.');
		} else if (info.type === ErrorType.USER_MESSAGE) {
			update(info.messageID, { failed: true, state: 'Not delivered' });
		} else if (info.type === ErrorType.CONNECTING) {
			bot(info.messageToUser || 'Sorry, we could not connect you to an agent.');
			backToBot();
		}
	},
});

function siteToken() {
	return $('site-token').value.trim() || null;
}

/* A copy of this page on a site's own origin names the deskbridge it talks to in its
 * deskbridge-base-url meta tag (that origin must be in the admin's Sites on other origins);
 * deskbridge's own copy leaves it empty and talks to where it came from. */
const baseUrl = document.querySelector('meta[name="deskbridge-base-url"]')?.getAttribute('content') || location.origin;

const desk = createServiceDeskFactory({
	baseUrl,
	getToken: siteToken,
	visitor: null,
	getHistory: () => state.messages.filter((m) => m.phase === 'bot' && (m.kind === 'user' || m.kind === 'bot'))
		.map((m) => ({ from: m.kind === 'user' ? 'user' : 'assistant', text: m.text, time: m.time })),
	onVisitorMessageFromAnotherTab: (text) => add('user', 'You (another tab)', text, { state: 'Sent' }),
})({ callback });

/* ---- the bot -------------------------------------------------------------------------- */

/* The bot's connect_to_agent response, as a watsonx Assistant skill configures it. */
const connectToAgent = () => ({ output: { generic: [{ response_type: 'connect_to_agent',
	message_to_human_agent: 'The visitor asked for a person on the deskbridge demo page.',
	agent_available: { message: 'An agent is available.' },
	agent_unavailable: { message: 'No agent is available right now. Please try again later.' } }] } });

async function toAgent() {
	const connect = connectToAgent();
	/* Web Chat asks first, and with no agent shows the item's agent_unavailable message
	 * (which the library has made the admin's) instead of connecting. */
	if (await desk.areAnyAgentsOnline(connect) === false) {
		bot(connect.output.generic[0].agent_unavailable.message);
		if (desk.leaveMessageOffered)
			offerMessage();
		return;
	}
	desk.visitor = siteToken() ? null : { name: $('visitor-name').value, email: $('visitor-email').value };
	state.mode = 'connecting';
	state.peer = 'Connecting…';
	status('Connecting you to an agent…');
	try {
		await desk.startChat(connect, {});
	} catch (e) {
		/* Web Chat's own CONNECTING after a rejected start; the library's came first with its reason */
		callback.setErrorStatus({ type: ErrorType.CONNECTING });
	}
}

function fromVisitor(text) {
	if (chatRunning()) {
		const m = add('user', 'You', text, { state: 'Sending…' });
		desk.userTyping(false);
		desk.sendMessageToAgent({ input: { text } }, m.id)
			.then(() => update(m.id, { state: 'Sent' }), () => {});
		return;
	}
	add('user', 'You', text, { phase: 'bot' });
	if (WANTS_AGENT.test(text))
		toAgent();
	else
		add('bot', 'Bot', "I'm only a demo bot and can't help with that. Type 'agent' to talk to a person.", { phase: 'bot' });
}

/* ---- leaving a message when no agent is available ------------------------------------- */

function offerMessage() {
	$('leave-status').textContent = '';
	$('leave-message').hidden = false;
	$('leave-text').focus();
}

$('leave-message').addEventListener('submit', async (e) => {
	e.preventDefault();
	const message = $('leave-text').value.trim();
	if (!message)
		return;
	$('leave-send').disabled = true;
	$('leave-status').textContent = 'Sending…';
	try {
		const left = await desk.leaveMessage(siteToken() ? { message } :
			{ message, name: $('visitor-name').value, email: $('visitor-email').value });
		$('leave-message').hidden = true;
		$('leave-text').value = '';
		bot(left.state === 'created'
			? 'Thanks! Your message is with our team as request #' + left.ticketId + '. We will answer you by email.'
			: 'Thanks! Your message is saved and will reach our team shortly. We will answer you by email.');
	} catch (err) {
		$('leave-status').textContent = 'Your message could not be sent: ' + err.message;
	} finally {
		$('leave-send').disabled = false;
	}
});
$('leave-cancel').addEventListener('click', () => {
	$('leave-message').hidden = true;
});

/* ---- wiring --------------------------------------------------------------------------- */

let typingTimer = null;
$('input').addEventListener('input', () => {
	if (!chatRunning())
		return;
	desk.userTyping(true);
	clearTimeout(typingTimer);
	typingTimer = setTimeout(() => desk.userTyping(false), 3000);
});
$('composer').addEventListener('submit', (e) => {
	e.preventDefault();
	const text = $('input').value;
	if (!text.trim())
		return;
	$('input').value = '';
	clearTimeout(typingTimer);
	fromVisitor(text);
});
async function endByVisitor(said) {
	backToBot();
	status(said);
	await desk.endChat({ preEndChatPayload: null, endedByHumanAgent: false });
}
/* Web Chat's way with files: each shown at once, checked by the service desk
 * (filesSelectedForUpload), and those it did not refuse sent with sendMessageToAgent. */
$('file').addEventListener('change', () => {
	const files = [...$('file').files];
	$('file').value = '';
	if (state.mode !== 'agent')
		return;
	const uploads = files.map((file) => ({ id: add('user', 'You', 'File: ' + file.name, { state: 'Uploading…' }).id,
		file, status: 'uploading' }));
	desk.filesSelectedForUpload(uploads);
	const ok = uploads.filter((u) => !state.messages.find((m) => m.id === u.id).failed);
	if (ok.length)
		desk.sendMessageToAgent({ input: { text: '' } }, randomId(), { filesToUpload: ok }).catch(() => {});
});
$('end').addEventListener('click', () => endByVisitor('You ended the chat.'));
$('cancel').addEventListener('click', () => endByVisitor('You cancelled the request for an agent.'));
document.addEventListener('visibilitychange', () => {
	if (!document.hidden && state.mode === 'agent')
		desk.userReadMessages();
});

render();
if (!state.messages.length)
	add('bot', 'Bot', "Hi! I'm the demo bot. Type 'agent' to talk to a person.", { phase: 'bot' });
if (state.mode === 'connecting') {
	/* Web Chat keeps no chat that was still connecting across a reload. */
	status('The request for an agent was interrupted. Ask again to continue.');
	backToBot();
} else if (state.mode === 'agent') {
	desk.reconnect().then((resumed) => {
		if (!resumed) {
			status('The chat with the agent has ended.');
			backToBot();
		}
	});
}
