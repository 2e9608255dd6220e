/* deskbridge-webchat.js — the service desk that IBM watsonx Assistant Web Chat calls to hand
 * a visitor to a human agent in Zendesk through deskbridge.
 *
 *   import { createServiceDeskFactory } from 'https://support.example/webchat/deskbridge-webchat.js';
 *   window.watsonAssistantChatOptions = { ...,
 *     serviceDeskFactory: createServiceDeskFactory({
 *       baseUrl: 'https://support.example',
 *       getToken: () => fetch('/my/deskbridge-jwt').then((r) => r.text()) }) };
 *
 * The classic-script build (deskbridge-webchat.classic.js, generated from this file by
 * tools/webchat-classic.sh) exposes the same names as window.DeskbridgeWebChat.
 *
 * Everything the visitor needs to resume after a reload (the transfer id, its secret, how
 * far the events were read, messages not yet accepted) is kept in sessionStorage: it dies
 * with the tab, unlike localStorage, so a secret never outlives the visit. No text is ever
 * turned into HTML here; Web Chat renders what it is given as a message. */

const ErrorType = Object.freeze({ CONNECTING: 1, DISCONNECTED: 2, USER_MESSAGE: 3 });

const STORAGE_KEY = 'deskbridge.transfer';
const HISTORY_MAX = 500;
const TEXT_MAX = 4096;
const SENT_REMEMBERED = 1000;
const TYPING_REPEAT_MS = 5000;

class DeskbridgeError extends Error {
	constructor(code, message, status) {
		super(message);
		this.name = 'DeskbridgeError';
		this.code = code;
		this.status = status;
	}
}

function randomId() {
	const c = globalThis.crypto;
	if (c && typeof c.randomUUID === 'function')
		return c.randomUUID();
	const bytes = new Uint8Array(16);
	c.getRandomValues(bytes);
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function sessionStorageOrNull() {
	try {
		return globalThis.sessionStorage || null;
	} catch (e) {
		return null;   /* storage disabled by the browser: the chat works, a reload does not resume */
	}
}

function retryAfterMs(response, fallbackMs) {
	const s = Number(response.headers.get('Retry-After'));
	return Number.isFinite(s) && s >= 0 ? s * 1000 : fallbackMs;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/* The connect_to_agent item of the assistant's response that asked for an agent. */
function connectItem(connectMessage) {
	const generic = (connectMessage && connectMessage.output && connectMessage.output.generic) || [];
	return generic.find((g) => g && g.response_type === 'connect_to_agent') || {};
}

function agentProfile(agent) {
	const profile = { id: (agent && agent.id) || 'agent', nickname: (agent && agent.name) || 'Agent' };
	if (agent && agent.avatar_url)
		profile.profile_picture_url = agent.avatar_url;
	return profile;
}

class DeskbridgeServiceDesk {
	/* parameters: what Web Chat passes to serviceDeskFactory ({callback, instance}).
	 * options: see createServiceDeskFactory. */
	constructor(parameters, options) {
		if (!options || typeof options.baseUrl !== 'string' || !options.baseUrl)
			throw new TypeError('deskbridge: options.baseUrl is required');
		this.callback = parameters.callback;
		this.base = options.baseUrl.replace(/\/+$/, '');
		this.getToken = options.getToken || null;
		this.visitor = options.visitor || null;
		this.department = options.department || null;
		this.locale = options.locale || null;
		this.getHistory = options.getHistory || null;
		this.onVisitorMessageFromAnotherTab = options.onVisitorMessageFromAnotherTab || null;
		this.storage = options.storage !== undefined ? options.storage : sessionStorageOrNull();
		this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
		this.doc = options.document !== undefined ? options.document : globalThis.document;
		this.win = options.window !== undefined ? options.window : globalThis.window;
		this.minBackoffMs = options.minBackoffMs || 1000;
		this.maxBackoffMs = options.maxBackoffMs || 30000;
		this.hiddenPollMs = options.hiddenPollMs || 10000;
		this.stopWhenHiddenMs = options.stopWhenHiddenMs || 10 * 60 * 1000;
		this.sendRetryMs = options.sendRetryMs || 2 * 60 * 1000;
		this.t = null;
		this.timer = null;
		this.polling = false;
		this.pollAgain = false;
		this.failures = 0;
		this.disconnected = false;
		this.hiddenSince = null;
		this.typing = { on: false, at: 0 };
		this.botHistory = [];
		this.listen(parameters.instance);
	}

	getName() {
		return 'deskbridge (Zendesk)';
	}

	updateState(state) {
		if (state && state.locale)
			this.locale = state.locale;
	}

	/* Web Chat's events give the conversation with the bot, which the agent gets as history. */
	listen(instance) {
		if (instance && typeof instance.on === 'function') {
			instance.on({ type: 'send', handler: (e) => this.noteBot('user', e && e.data && e.data.input && e.data.input.text) });
			instance.on({ type: 'receive', handler: (e) => {
				const generic = (e && e.data && e.data.output && e.data.output.generic) || [];
				for (const g of generic)
					if (g && g.response_type === 'text')
						this.noteBot('assistant', g.text);
			} });
		}
		if (this.win && typeof this.win.addEventListener === 'function')
			this.win.addEventListener('online', () => this.pollNow());
		if (this.doc && typeof this.doc.addEventListener === 'function')
			this.doc.addEventListener('visibilitychange', () => this.visibilityChanged());
	}

	noteBot(from, text) {
		if (this.t || typeof text !== 'string' || !text)
			return;
		this.botHistory.push({ from, text: text.slice(0, TEXT_MAX), time: new Date().toISOString() });
		if (this.botHistory.length > HISTORY_MAX)
			this.botHistory.shift();
	}

	/* ---- what Web Chat calls -------------------------------------------------------- */

	async areAnyAgentsOnline() {
		try {
			const r = await this.request('GET', '/api/availability');
			if (r.ok)
				return !!r.body.agents_online;
			const code = r.body && r.body.error && r.body.error.code;
			return code === 'transfers_disabled' || code === 'not_configured' ? false : null;
		} catch (e) {
			return null;
		}
	}

	async startChat(connectMessage) {
		this.stopPolling();
		const item = connectItem(connectMessage);
		const target = item.transfer_info && item.transfer_info.target && item.transfer_info.target.deskbridge;
		const pending = this.load();
		/* One id per attempt, kept across a reload: deskbridge answers a repeat with the same transfer. */
		const clientRequestId = pending && pending.requesting ? pending.requesting : randomId();
		this.save({ requesting: clientRequestId });
		const body = {
			message_to_human_agent: item.message_to_human_agent || null,
			history: this.history(),
			department: (target && target.department) || this.department,
			locale: this.locale,
			page_url: this.win && this.win.location ? String(this.win.location.href) : null,
			client_request_id: clientRequestId,
		};
		if (this.visitor)
			body.visitor = this.visitor;
		let r;
		try {
			if (this.getToken) {
				const token = await this.getToken();
				if (token)
					body.token = String(token).trim();
			}
			r = await this.requestWithRetry('POST', '/api/transfers', body, null, 3);
		} catch (e) {
			this.clear();
			this.invoke('setErrorStatus', { type: ErrorType.CONNECTING, logInfo: e });
			throw e;
		}
		if (r.status !== 201) {
			this.clear();
			const err = (r.body && r.body.error) || { code: 'http_' + r.status, message: 'deskbridge answered ' + r.status };
			this.invoke('setErrorStatus', { type: ErrorType.CONNECTING, messageToUser: err.message, logInfo: err });
			throw new DeskbridgeError(err.code, err.message, r.status);
		}
		this.t = { id: r.body.id, secret: r.body.secret, next: r.body.next || 0, pollMs: r.body.poll_after_ms || 1000,
			etag: null, agent: null, lastAgentSeq: 0, readSeq: 0, sent: {}, pending: [] };
		this.endedByUs = false;
		this.persist();
		this.schedulePoll(0);
	}

	/* Called by Web Chat after a page reload when the visitor was talking to an agent. */
	async reconnect() {
		const stored = this.load();
		if (!stored || !stored.id)
			return false;
		this.t = stored;
		this.endedByUs = false;
		let r;
		try {
			r = await this.request('GET', '/api/transfers/' + encodeURIComponent(stored.id), undefined, true);
		} catch (e) {
			this.schedulePoll(0);   /* offline for now: polling reports it and recovers */
			return true;
		}
		if (r.status === 401 || r.status === 404 || (r.ok && r.body.state === 'ended')) {
			this.t = null;
			this.clear();
			return false;
		}
		if (r.ok)
			this.apply(r.body);
		for (const p of this.t.pending.slice())
			this.deliver(p.cmid, p.text).catch(() => {});
		this.schedulePoll(this.t.pollMs);
		return true;
	}

	async sendMessageToAgent(message, messageID) {
		const text = message && message.input && typeof message.input.text === 'string' ? message.input.text : '';
		if (!this.t)
			throw new DeskbridgeError('no_chat', 'There is no chat with an agent.');
		if (!text.trim())
			return;
		const cmid = messageID || randomId();
		if (!this.t.pending.some((p) => p.cmid === cmid))
			this.t.pending.push({ cmid, text });
		this.persist();
		await this.deliver(cmid, text);
	}

	async userTyping(isTyping) {
		if (!this.t)
			return;
		const now = Date.now();
		if (isTyping === this.typing.on && (!isTyping || now - this.typing.at < TYPING_REPEAT_MS))
			return;
		this.typing = { on: !!isTyping, at: now };
		await this.request('POST', this.path('/typing'), { typing: !!isTyping }, true).catch(() => {});
	}

	async userReadMessages() {
		if (!this.t || this.t.lastAgentSeq <= this.t.readSeq)
			return;
		const seq = this.t.lastAgentSeq;
		const r = await this.request('POST', this.path('/read'), { seq }, true).catch(() => null);
		if (r && r.ok && this.t) {
			this.t.readSeq = Math.max(this.t.readSeq, seq);
			this.persist();
		}
	}

	async endChat() {
		if (!this.t)
			return;
		const path = this.path('/end');
		this.endedByUs = true;
		this.stopPolling();
		this.t = null;
		this.clear();
		await this.requestWithRetry('POST', path, undefined, true, 2).catch(() => {});
	}

	/* ---- sending -------------------------------------------------------------------- */

	/* Posts one message until deskbridge has stored it, always with the same
	 * client_message_id, so a retry after a lost answer is not a second message. */
	async deliver(cmid, text) {
		const t = this.t;
		const deadline = Date.now() + this.sendRetryMs;
		let attempt = 0;
		for (;;) {
			let r = null;
			try {
				r = await this.request('POST', this.pathOf(t, '/messages'), { client_message_id: cmid, text }, t);
			} catch (e) {
				r = null;
			}
			if (r && r.status === 202) {
				t.sent[cmid] = r.body.seq;
				t.pending = t.pending.filter((p) => p.cmid !== cmid);
				this.forgetOldSent(t);
				if (this.t === t)
					this.persist();
				return;
			}
			const retryable = !r || r.status === 429 || r.status >= 500;
			if (!retryable || Date.now() >= deadline || this.t !== t) {
				t.pending = t.pending.filter((p) => p.cmid !== cmid);
				if (this.t === t)
					this.persist();
				const err = (r && r.body && r.body.error) || { code: 'unreachable', message: 'deskbridge could not be reached.' };
				this.invoke('setErrorStatus', { type: ErrorType.USER_MESSAGE, messageID: cmid, logInfo: err });
				throw new DeskbridgeError(err.code, err.message, r ? r.status : 0);
			}
			attempt++;
			await sleep(r ? retryAfterMs(r, this.backoff(attempt)) : this.backoff(attempt));
		}
	}

	forgetOldSent(t) {
		const keys = Object.keys(t.sent);
		for (let i = 0; i < keys.length - SENT_REMEMBERED; i++)
			delete t.sent[keys[i]];
	}

	/* ---- polling -------------------------------------------------------------------- */

	schedulePoll(ms) {
		clearTimeout(this.timer);
		if (this.t)
			this.timer = setTimeout(() => this.poll(), ms);
	}

	stopPolling() {
		clearTimeout(this.timer);
		this.timer = null;
	}

	pollNow() {
		if (!this.t)
			return;
		if (this.polling)
			this.pollAgain = true;
		else
			this.schedulePoll(0);
	}

	visibilityChanged() {
		if (!this.doc)
			return;
		if (this.doc.hidden) {
			this.hiddenSince = Date.now();
		} else {
			this.hiddenSince = null;
			this.pollNow();
		}
	}

	async poll() {
		const t = this.t;
		if (!t || this.polling)
			return;
		/* A tab left in the background for long stops asking; coming back resumes at once. */
		if (this.hiddenSince !== null && Date.now() - this.hiddenSince > this.stopWhenHiddenMs)
			return;
		this.polling = true;
		let delay;
		try {
			delay = await this.pollOnce(t);
		} finally {
			this.polling = false;
		}
		if (this.t !== t)
			return;
		if (this.pollAgain) {
			this.pollAgain = false;
			delay = 0;
		}
		if (this.hiddenSince !== null)
			delay = Math.max(delay, this.hiddenPollMs);
		this.schedulePoll(delay);
	}

	/* One events request; returns how long to wait before the next. */
	async pollOnce(t) {
		const headers = t.etag ? { 'If-None-Match': t.etag } : {};
		let r;
		try {
			r = await this.request('GET', this.pathOf(t, '/events?after=' + t.next), undefined, t, headers);
		} catch (e) {
			return this.lostConnection(e);
		}
		if (r.status === 304) {
			this.connected();
			return t.pollMs;
		}
		if (r.ok) {
			this.connected();
			t.etag = r.headers.get('ETag');
			this.apply(r.body);
			return t.pollMs;
		}
		if (r.status === 401 || r.status === 404) {
			/* The transfer is gone (or its secret no longer works): nobody is on the other side. */
			this.finish();
			await this.invoke('agentEndedChat');
			return 0;
		}
		if (r.status === 429)
			return retryAfterMs(r, t.pollMs * 2);
		return this.lostConnection(r.body && r.body.error, r.status === 503 ? retryAfterMs(r, 0) : 0);
	}

	lostConnection(info, atLeastMs) {
		this.failures++;
		/* One failed request is a blip; the second in a row is worth telling the visitor. */
		if (this.failures >= 2 && !this.disconnected) {
			this.disconnected = true;
			this.invoke('setErrorStatus', { type: ErrorType.DISCONNECTED, isDisconnected: true, logInfo: info });
		}
		return Math.max(atLeastMs || 0, this.backoff(this.failures));
	}

	connected() {
		this.failures = 0;
		if (this.disconnected) {
			this.disconnected = false;
			this.invoke('setErrorStatus', { type: ErrorType.DISCONNECTED, isDisconnected: false });
		}
	}

	backoff(attempt) {
		const ms = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(attempt - 1, 16));
		return ms / 2 + Math.random() * ms / 2;
	}

	/* ---- events --------------------------------------------------------------------- */

	/* Applies a transfer's events in seq order, each once, whoever asked for them. */
	apply(body) {
		const t = this.t;
		if (body.poll_after_ms)
			t.pollMs = body.poll_after_ms;
		const events = (body.events || []).slice().sort((a, b) => a.seq - b.seq);
		for (const ev of events) {
			if (this.t !== t)
				return;
			if (ev.seq <= t.next)
				continue;
			t.next = ev.seq;
			this.persist();
			this.handle(t, ev);
		}
	}

	handle(t, ev) {
		switch (ev.type) {
		case 'queued': {
			const availability = {};
			if (ev.position != null)
				availability.position_in_queue = ev.position;
			if (ev.estimated_wait_s != null)
				availability.estimated_wait_time = Math.max(1, Math.ceil(ev.estimated_wait_s / 60));
			this.invoke('updateAgentAvailability', availability);
			break;
		}
		case 'agent_joined':
			t.agent = agentProfile(ev.agent);
			this.persist();
			this.invoke('agentJoined', t.agent);
			break;
		case 'agent_left':
			this.invoke('agentLeftChat');
			break;
		case 'agent_typing':
			this.invoke('agentTyping', !!ev.typing);
			break;
		case 'message':
			this.message(t, ev);
			break;
		case 'read':
			this.invoke('agentReadMessages');
			break;
		case 'transferred':
			this.invoke('beginTransferToAnotherAgent', ev.agent ? agentProfile(ev.agent) : undefined);
			break;
		case 'error':
			this.error(t, ev);
			break;
		case 'ended':
			this.finish();
			if (!this.endedByUs && !t.failedToConnect)
				this.invoke('agentEndedChat');
			break;
		default:
			break;   /* a newer deskbridge's event this client does not know: skipped, not fatal */
		}
	}

	message(t, ev) {
		if (ev.from === 'user') {
			/* This tab's own message, or one the visitor typed in another tab of the same chat. */
			const mine = ev.client_message_id && (ev.client_message_id in t.sent ||
				t.pending.some((p) => p.cmid === ev.client_message_id));
			if (!mine && this.onVisitorMessageFromAnotherTab)
				this.onVisitorMessageFromAnotherTab(ev.text, ev);
			return;
		}
		if (ev.from === 'agent') {
			t.lastAgentSeq = ev.seq;
			if (!t.agent && ev.agent)
				t.agent = agentProfile(ev.agent);
			this.persist();
		}
		this.invoke('sendMessageToUser', ev.text, (ev.agent && ev.agent.id) || (t.agent && t.agent.id) || 'agent');
	}

	error(t, ev) {
		if (ev.code === 'delivery_failed') {
			const cmid = Object.keys(t.sent).find((k) => t.sent[k] === ev.message_seq);
			this.invoke('setErrorStatus', { type: ErrorType.USER_MESSAGE, messageID: cmid || ev.message_id, logInfo: ev });
		} else if (!t.agent) {
			t.failedToConnect = true;
			this.invoke('setErrorStatus', { type: ErrorType.CONNECTING, logInfo: ev });
		} else {
			this.invoke('setErrorStatus', { type: ErrorType.DISCONNECTED, isDisconnected: true, logInfo: ev });
		}
	}

	finish() {
		this.stopPolling();
		this.t = null;
		this.clear();
	}

	/* A callback Web Chat lacks (older versions) is skipped; one that throws does not stop the chat. */
	invoke(name, ...args) {
		const fn = this.callback && this.callback[name];
		if (typeof fn !== 'function')
			return undefined;
		try {
			return fn.apply(this.callback, args);
		} catch (e) {
			if (globalThis.console)
				globalThis.console.error('deskbridge: Web Chat callback ' + name + ' failed', e);
			return undefined;
		}
	}

	/* ---- HTTP and storage ----------------------------------------------------------- */

	history() {
		const given = this.getHistory ? this.getHistory() : this.botHistory;
		return (given || []).slice(-HISTORY_MAX).map((h) => ({
			from: h.from === 'user' ? 'user' : 'assistant',
			text: String(h.text == null ? '' : h.text).slice(0, TEXT_MAX),
			time: h.time || null,
		})).filter((h) => h.text);
	}

	path(suffix) {
		return this.pathOf(this.t, suffix);
	}

	pathOf(t, suffix) {
		return '/api/transfers/' + encodeURIComponent(t.id) + suffix;
	}

	/* auth: a transfer (its secret is the Bearer), true for the current one, or nothing. */
	async request(method, path, body, auth, extraHeaders) {
		const headers = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
		const t = auth === true ? this.t : auth;
		if (t)
			headers.Authorization = 'Bearer ' + t.secret;
		if (body !== undefined)
			headers['Content-Type'] = 'application/json';
		const response = await this.fetch(this.base + path, {
			method, headers, body: body === undefined ? undefined : JSON.stringify(body),
			cache: 'no-store', credentials: 'omit',
		});
		let parsed = null;
		if (response.status !== 204 && response.status !== 304) {
			const text = await response.text();
			try {
				parsed = text ? JSON.parse(text) : null;
			} catch (e) {
				parsed = null;   /* a proxy's HTML error page: treated by its status */
			}
		}
		return { status: response.status, ok: response.status >= 200 && response.status < 300,
			body: parsed, headers: response.headers };
	}

	async requestWithRetry(method, path, body, auth, attempts) {
		for (let i = 1; ; i++) {
			let r = null;
			try {
				r = await this.request(method, path, body, auth);
			} catch (e) {
				if (i >= attempts)
					throw e;
			}
			if (r && !(r.status >= 500 && r.status !== 503) && r.status !== 429)
				return r;
			if (r && i >= attempts)
				return r;
			await sleep(r ? retryAfterMs(r, this.backoff(i)) : this.backoff(i));
		}
	}

	persist() {
		if (this.t)
			this.save(this.t);
	}

	save(value) {
		try {
			if (this.storage)
				this.storage.setItem(STORAGE_KEY, JSON.stringify(value));
		} catch (e) {
			/* full or disabled storage: the chat goes on, only a reload will not resume it */
		}
	}

	load() {
		try {
			const raw = this.storage && this.storage.getItem(STORAGE_KEY);
			const v = raw ? JSON.parse(raw) : null;
			if (v && v.id) {
				v.sent = v.sent || {};
				v.pending = v.pending || [];
			}
			return v;
		} catch (e) {
			return null;
		}
	}

	clear() {
		try {
			if (this.storage)
				this.storage.removeItem(STORAGE_KEY);
		} catch (e) {
			/* nothing to undo */
		}
	}

	/* Whether this tab holds a chat with an agent that reconnect() can resume. */
	hasChatToResume() {
		const v = this.load();
		return !!(v && v.id);
	}
}

/* options:
 *   baseUrl      where deskbridge is served, e.g. 'https://support.example' (required)
 *   getToken     () => the site's JWT for this visitor (string or Promise), when the
 *                deployment authenticates visitors
 *   visitor      {name, email}, used only when the deployment does not authenticate visitors
 *   department   routes the conversation in Zendesk (else transfer_info.target.deskbridge.department
 *                of the connect_to_agent response, else the admin's default)
 *   locale, getHistory () => [{from: 'user'|'assistant', text, time}] (else what Web Chat's
 *                send/receive events showed), onVisitorMessageFromAnotherTab (text) */
function createServiceDeskFactory(options) {
	return (parameters) => new DeskbridgeServiceDesk(parameters || {}, options);
}

export { ErrorType, DeskbridgeError, DeskbridgeServiceDesk, createServiceDeskFactory };
