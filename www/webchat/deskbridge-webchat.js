/* deskbridge-webchat.js — the service desk that IBM watsonx Assistant Web Chat, or its open
 * successor Carbon AI Chat (@carbon/ai-chat), calls to hand a visitor to a human agent in
 * Zendesk through deskbridge.
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
 * Lifecycle rules (the README's Web Chat section explains them):
 *   - the host's callbacks are called only while the host has a chat running; whatever the
 *     host does with them, a rejected or throwing callback never escapes;
 *   - while no agent has joined, a lost connection is ridden out silently: the host ends
 *     a connecting chat on any DISCONNECTED, so only giving up is reported (CONNECTING);
 *   - every transfer this tab started is ended on deskbridge once the visitor is done
 *     with it (End chat, a cancel while connecting, giving up, a stale one found at the
 *     next start); an end that cannot be sent yet is kept and retried until it is;
 *   - a message settles (sent, or failed) before the host's own 20 s verdict.
 *
 * Everything the visitor needs to resume after a reload (the transfer id, its secret, how
 * far the events were read, messages not yet accepted, ends not yet sent) is kept in
 * sessionStorage: it dies with the tab, unlike localStorage, so a secret never outlives
 * the visit. No text is ever turned into HTML here.
 *
 * Types: the JSDoc below names the hosts' published types; tests/webchat/tsconfig.json
 * checks this file against them under tsc --strict. */

/** @typedef {import('ibm-web-chat').ServiceDeskCallback} WebChatCallback */
/** @typedef {import('@carbon/ai-chat').ServiceDeskCallback} CarbonCallback */
/** @typedef {{ id: string, secret: string, next: number, pollMs: number, etag: string | null,
 *   agent: { id: string, nickname: string, profile_picture_url?: string } | null,
 *   lastAgentSeq: number, readSeq: number, sent: Record<string, number>,
 *   pending: { cmid: string, text: string }[], outageSince?: number | null }} Transfer */
/** @typedef {{ id?: string | null, name?: string | null, avatar_url?: string | null }} EventAgent */
/** @typedef {{ kind?: unknown, url?: unknown, media_type?: unknown, alt_text?: unknown }} EventMedia */
/** What the library reads of either host's FileUpload. @typedef {{ id: string, file: File }} FileUpload */
/** @typedef {{ type: 1, messageToUser?: string, logInfo?: unknown } | { type: 2, isDisconnected: boolean, logInfo?: unknown }
 *   | { type: 3, messageID: string, logInfo?: unknown }} ErrorInfo */

const ErrorType = Object.freeze(/** @type {const} */ ({ CONNECTING: 1, DISCONNECTED: 2, USER_MESSAGE: 3 }));

/* The defaults below are measured against what the hosts do on their own: Carbon AI Chat
 * 1.9.1 (dist/es/chat.ChatAppEntry.js) marks a message failed 20 s after
 * sendMessageToAgent if it has not settled, and waits 5 s for endChat (the mock host of
 * tests/webchat/ keeps both, and the tests hold these defaults under them). */
const Defaults = Object.freeze({
	/* Well inside the host's 20 s: no request outlives it, so no late success can follow
	 * a failure the host already shows. */
	sendTimeoutMs: 15000,
	/* endChat resolves by then; the end itself goes on being retried after. */
	endChatWaitMs: 4000,
	/* How long deskbridge may stay unreachable while the visitor waits for an agent. */
	queuedGiveUpMs: 60000,
	minBackoffMs: 1000,
	maxBackoffMs: 30000,
	hiddenPollMs: 10000,
	stopWhenHiddenMs: 10 * 60 * 1000,
	requestTimeoutMs: 30000,
	/* deskbridge's default limits.file_upload_bytes: a larger file is refused at once, in
	 * the input area, instead of after its upload. */
	maxFileBytes: 10 * 1024 * 1024,
	/* A file goes to Zendesk within its request: up to a minute there, plus the upload. */
	uploadTimeoutMs: 120000,
});

/* Every text the library itself shows a visitor: short, for the visitor, and replaceable
 * one by one with the `strings` option (a translation, the site's own tone). What went
 * wrong technically goes to the console instead. When no agent is available, the
 * admin's own message (transfers.unavailable_message, sent by deskbridge) comes first. */
const Strings = Object.freeze({
	agentsUnavailable: 'No agent is available right now. Please try again later.',
	couldNotConnect: 'Sorry, we could not connect you to an agent. Please try again later.',
	noAgentTook: 'No agent could take the chat. Please try again later.',
	connectionLost: 'The connection to our support team was lost. Please try again.',
	notRecognized: 'We could not confirm who you are. Please reload the page and try again.',
	tooManyRequests: 'Too many requests right now. Please try again in a few minutes.',
	fileTooLarge: 'This file is too large to send.',
	fileTypeNotAllowed: 'Only images (PNG, JPEG, GIF), PDF and text files can be sent.',
	fileNotSent: 'The file could not be sent. Please try again.',
});

/* What deskbridge takes (docs/api.md, POST /api/transfers/{id}/files), for the host's file
 * picker; deskbridge itself judges a file by its content. */
const FILE_TYPES = Object.freeze({
	'image/png': ['.png'], 'image/jpeg': ['.jpg', '.jpeg'], 'image/gif': ['.gif'],
	'application/pdf': ['.pdf'], 'text/plain': ['.txt'],
});
const ACCEPTED_FILES = Object.entries(FILE_TYPES).map(([t, exts]) => [t, ...exts].join(',')).join(',');

/* The hosts Zendesk serves messaging media from (docs/api.md, the agent's images and
 * files): deskbridge keeps no other mediaUrl, and the library checks again before it
 * shows one, so an address from anywhere else is never put in front of the visitor. */
const MEDIA_HOST = /^(?:[a-z0-9-]+\.)+(?:zendesk\.com|zdusercontent\.com)$|^(?:[a-z0-9-]+\.)*smooch\.io$/;

/** The https: address on Zendesk's media hosts, normalised by URL, or null.
 * @param {unknown} url @returns {string | null} */
function mediaUrl(url) {
	if (typeof url !== 'string' || !/^https:\/\//i.test(url))
		return null;
	let u;
	try {
		u = new URL(url);
	} catch (e) {
		return null;
	}
	if (u.protocol !== 'https:' || u.username || u.password || u.port || !MEDIA_HOST.test(u.hostname))
		return null;
	return u.href;
}

/** Text shown as itself in a host that renders markdown: every character markdown or
 * HTML could read is escaped. @param {string} text */
function literal(text) {
	return text.replace(/[\\`*_{}[\]()#+\-.!|<>&~"']/g, (c) => '\\' + c);
}

const STORAGE_KEY = 'deskbridge.transfer';
const ENDING_KEY = 'deskbridge.ending';
const HISTORY_MAX = 500;
const TEXT_MAX = 4096;
const SENT_REMEMBERED = 1000;
const TYPING_REPEAT_MS = 5000;

class DeskbridgeError extends Error {
	/** @param {string} code @param {string} message @param {number} [status] */
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

/* 256 random bits, base64url: the proof that a retried start comes from this tab. */
function randomSecret() {
	const bytes = new Uint8Array(32);
	globalThis.crypto.getRandomValues(bytes);
	return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function sessionStorageOrNull() {
	try {
		return globalThis.sessionStorage || null;
	} catch (e) {
		return null;   /* storage disabled by the browser: the chat works, a reload does not resume */
	}
}

/** @param {{ headers: { get(name: string): string | null } }} response @param {number} fallbackMs */
function retryAfterMs(response, fallbackMs) {
	const s = Number(response.headers.get('Retry-After'));
	return Number.isFinite(s) && s >= 0 ? s * 1000 : fallbackMs;
}

/** @param {number} ms */
function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The connect_to_agent item of the assistant's response that asked for an agent.
 * @param {any} connectMessage */
function connectItem(connectMessage) {
	const generic = (connectMessage && connectMessage.output && connectMessage.output.generic) || [];
	return generic.find((/** @type {any} */ g) => g && g.response_type === 'connect_to_agent') || {};
}

/* What differs between the two hosts' callbacks: the names of the queue fields, and the
 * user_type Carbon requires on a profile. */
const WEB_CHAT_SHAPES = {
	/** @param {{ position?: number | null, estimated_wait_s?: number | null }} ev
	 *  @returns {import('ibm-web-chat').AgentAvailability} */
	availability(ev) {
		const a = /** @type {import('ibm-web-chat').AgentAvailability} */ ({});
		if (ev.position != null)
			a.position_in_queue = ev.position;
		if (ev.estimated_wait_s != null)
			a.estimated_wait_time = waitMinutes(ev.estimated_wait_s);
		return a;
	},
	/** @param {EventAgent | null | undefined} agent @param {string | null} avatar
	 *  @returns {import('ibm-web-chat').AgentProfile} */
	profile(agent, avatar) {
		return baseProfile(agent, avatar);
	},
};

const CARBON_SHAPES = {
	/** @param {{ position?: number | null, estimated_wait_s?: number | null }} ev
	 *  @returns {import('@carbon/ai-chat').AgentAvailability} */
	availability(ev) {
		const a = /** @type {import('@carbon/ai-chat').AgentAvailability} */ ({});
		if (ev.position != null)
			a.positionInQueue = ev.position;
		if (ev.estimated_wait_s != null)
			a.estimatedWaitTime = waitMinutes(ev.estimated_wait_s);
		return a;
	},
	/** @param {EventAgent | null | undefined} agent @param {string | null} avatar
	 *  @returns {import('@carbon/ai-chat').ResponseUserProfile} */
	profile(agent, avatar) {
		return Object.assign(baseProfile(agent, avatar), { user_type: /** @type {import('@carbon/ai-chat').UserType} */ ('human') });
	},
};

/** @param {number} seconds */
function waitMinutes(seconds) {
	return Math.max(1, Math.ceil(seconds / 60));
}

/** avatar: the picture for an agent Zendesk gives none (the admin's, /api/avatar), or null.
 * @param {EventAgent | null | undefined} agent @param {string | null} avatar
 * @returns {{ id: string, nickname: string, profile_picture_url?: string }} */
function baseProfile(agent, avatar) {
	/** @type {{ id: string, nickname: string, profile_picture_url?: string }} */
	const profile = { id: (agent && agent.id) || 'agent', nickname: (agent && agent.name) || 'Agent' };
	const picture = (agent && agent.avatar_url) || avatar;
	if (picture)
		profile.profile_picture_url = picture;
	return profile;
}

/** The technical side of something the visitor is told in plain words: for the site's
 * developers and the admin, in the console.
 * @param {string} what @param {unknown} [detail] */
function warn(what, detail) {
	if (globalThis.console)
		globalThis.console.warn('deskbridge: ' + what, detail === undefined ? '' : detail);
}

/** Carbon's factory parameters carry persistedState and its callback can store state
 * (dist/types of @carbon/ai-chat: ServiceDeskFactoryParameters, ServiceDeskCallback);
 * Web Chat's have neither.
 * @param {any} parameters */
function detectHost(parameters) {
	const cb = parameters && parameters.callback;
	return ('persistedState' in parameters) || (cb && typeof cb.updatePersistedState === 'function') ? 'carbon' : 'webchat';
}

class DeskbridgeServiceDesk {
	/** parameters: what the host passes to serviceDeskFactory ({callback, instance, ...}).
	 * options: see createServiceDeskFactory.
	 * @param {any} parameters @param {any} options */
	constructor(parameters, options) {
		if (!options || typeof options.baseUrl !== 'string' || !options.baseUrl)
			throw new TypeError('deskbridge: options.baseUrl is required');
		if (options.host !== undefined && options.host !== 'webchat' && options.host !== 'carbon')
			throw new TypeError("deskbridge: options.host is 'webchat' or 'carbon'");
		/** @type {any} */
		this.callback = parameters.callback;
		this.host = options.host || detectHost(parameters);
		this.shapes = this.host === 'carbon' ? CARBON_SHAPES : WEB_CHAT_SHAPES;
		this.base = options.baseUrl.replace(/\/+$/, '');
		this.getToken = options.getToken || null;
		this.visitor = options.visitor || null;
		this.department = options.department || null;
		this.locale = options.locale || null;
		this.getHistory = options.getHistory || null;
		this.onVisitorMessageFromAnotherTab = options.onVisitorMessageFromAnotherTab || null;
		/** @type {Record<keyof typeof Strings, string>} */
		this.strings = Object.assign({}, Strings);
		for (const k of /** @type {(keyof typeof Strings)[]} */ (Object.keys(Strings)))
			if (options.strings && typeof options.strings[k] === 'string' && options.strings[k])
				this.strings[k] = options.strings[k];
		/** The admin's message from the last availability answer that said no agent. @type {string | null} */
		this.unavailableMessage = null;
		/** Whether the last availability answer offered leaving a message (leaveMessage). */
		this.leaveMessageOffered = false;
		/** @type {Promise<string | null> | null} */
		this.avatarCheck = null;
		/** @type {string | null} */
		this.avatar = null;
		this.storage = options.storage !== undefined ? options.storage : sessionStorageOrNull();
		this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
		this.doc = options.document !== undefined ? options.document : globalThis.document;
		this.win = options.window !== undefined ? options.window : globalThis.window;
		/** @type {Record<keyof typeof Defaults, number>} */
		this.timing = Object.assign({}, Defaults);
		for (const k of /** @type {(keyof typeof Defaults)[]} */ (Object.keys(Defaults)))
			if (typeof options[k] === 'number' && options[k] > 0)
				this.timing[k] = options[k];
		/** @type {Transfer | null} */
		this.t = null;
		/** @type {{ cancelled: boolean, done: Promise<void> } | null} */
		this.starting = null;
		/** @type {ReturnType<typeof setTimeout> | undefined} */
		this.timer = undefined;
		this.polling = false;
		this.pollAgain = false;
		this.failures = 0;
		this.disconnected = false;
		/** @type {number | null} */
		this.hiddenSince = null;
		this.typing = { on: false, at: 0 };
		/** @type {{ from: string, text: string, time: string }[]} */
		this.botHistory = [];
		/** @type {Map<string, Promise<void>>} */
		this.endings = new Map();
		this.listen(parameters.instance);
		for (const e of this.loadEndings())
			this.endOnServer(e);
	}

	getName() {
		return 'deskbridge (Zendesk)';
	}

	/** @param {{ locale?: string }} state */
	updateState(state) {
		if (state && state.locale)
			this.locale = state.locale;
	}

	/** The host's events give the conversation with the bot, which the agent gets as history.
	 * @param {any} instance */
	listen(instance) {
		if (instance && typeof instance.on === 'function') {
			instance.on({ type: 'send', handler: (/** @type {any} */ e) => this.noteBot('user', e && e.data && e.data.input && e.data.input.text) });
			instance.on({ type: 'receive', handler: (/** @type {any} */ e) => {
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

	/** @param {string} from @param {unknown} text */
	noteBot(from, text) {
		if (this.t || typeof text !== 'string' || !text)
			return;
		this.botHistory.push({ from, text: text.slice(0, TEXT_MAX), time: new Date().toISOString() });
		if (this.botHistory.length > HISTORY_MAX)
			this.botHistory.shift();
	}

	/* ---- what the host calls ------------------------------------------------------- */

	/* With no agent, the hosts show the connect_to_agent item's agent_unavailable.message
	 * instead of the card (Carbon AI Chat's ServiceDesk.areAnyAgentsOnline: "the 'no agents
	 * are available' message configured in the skill"); the admin's message takes its place.
	 * Unknown availability (deskbridge not set up to ask Zendesk, Zendesk not answering) is
	 * null: the host offers the chat, and the agent workspace queues it. */
	/** @param {any} [connectMessage] @returns {Promise<boolean | null>} */
	async areAnyAgentsOnline(connectMessage) {
		let r;
		try {
			r = await this.request('GET', '/api/availability');
		} catch (e) {
			warn('agent availability could not be asked', e);
			return null;
		}
		if (!r.ok || !r.body) {
			warn('agent availability is unknown', (r.body && r.body.error) || r.status);
			return null;
		}
		this.leaveMessageOffered = r.body.leave_message === true;
		if (r.body.agents_online)
			return true;
		if (r.body.reason === 'transfers_disabled')
			warn('transfers to agents are turned off (transfers_enabled); the visitor is told no agent is available');
		this.unavailableMessage = typeof r.body.message === 'string' && r.body.message ? r.body.message : null;
		const item = connectItem(connectMessage);
		if (connectMessage && item.response_type === 'connect_to_agent')
			item.agent_unavailable = Object.assign({}, item.agent_unavailable, { message: this.noAgentText() });
		return false;
	}

	noAgentText() {
		return this.unavailableMessage || this.strings.agentsUnavailable;
	}

	/* ---- leaving a message while no agent is available ------------------------------- */

	/** What /api/availability says, for a site's bot choosing between a chat and a message:
	 * agentsOnline is null when unknown (deskbridge cannot ask Zendesk, or cannot be reached);
	 * leaveMessage says whether deskbridge takes a message (leaveMessage()) now.
	 * @returns {Promise<{ agentsOnline: boolean | null, count: number, reason: string | null,
	 *   message: string | null, leaveMessage: boolean }>} */
	async availability() {
		let r = null;
		try {
			r = await this.request('GET', '/api/availability');
		} catch (e) {
			warn('agent availability could not be asked', e);
		}
		if (!r || !r.ok || !r.body)
			return { agentsOnline: null, count: 0, reason: null, message: null, leaveMessage: false };
		this.leaveMessageOffered = r.body.leave_message === true;
		return { agentsOnline: r.body.agents_online === true, count: Number(r.body.count) || 0,
			reason: typeof r.body.reason === 'string' ? r.body.reason : null,
			message: typeof r.body.message === 'string' ? r.body.message : null,
			leaveMessage: this.leaveMessageOffered };
	}

	/** Leaves a message for the support team, which deskbridge stores and then creates as a
	 * Zendesk ticket: resolves once deskbridge has it (state "pending"), or once Zendesk has
	 * it ("created", with Zendesk's ticket number) if that comes within waitMs (default
	 * 10 s). Retries reuse one client_request_id, so a lost answer never leaves it twice.
	 * The visitor is the site's token (token, else the getToken option) when deskbridge
	 * authenticates visitors, otherwise name and email (else the visitor option); history
	 * defaults to the conversation with the bot, pageUrl to this page. Rejects with a
	 * DeskbridgeError whose code is the API's (tickets_disabled, invalid_field, ...).
	 * @param {{ message: string, name?: string, email?: string, token?: string | null,
	 *   history?: { from: string, text: string, time?: string | null }[], pageUrl?: string | null,
	 *   waitMs?: number }} m
	 * @returns {Promise<{ id: string, state: string, ticketId: string | null }>} */
	async leaveMessage(m) {
		/** @type {Record<string, unknown>} */
		const body = {
			message: String((m && m.message) || ''),
			history: this.history(m && m.history),
			page_url: m && m.pageUrl !== undefined ? m.pageUrl : (this.win && this.win.location ? String(this.win.location.href) : null),
			client_request_id: randomId(),
		};
		const token = m && m.token !== undefined ? m.token : (this.getToken ? await this.getToken() : null);
		if (token)
			body.token = String(token).trim();
		if (m && (m.name !== undefined || m.email !== undefined))
			body.visitor = { name: m.name, email: m.email };
		else if (this.visitor)
			body.visitor = this.visitor;
		const r = await this.requestWithRetry('POST', '/api/tickets', body, null, 3);
		if (r.status !== 202 || !r.body || typeof r.body.id !== 'string') {
			const err = (r.body && r.body.error) || { code: 'http_' + r.status, message: 'HTTP ' + r.status };
			throw new DeskbridgeError(err.code, err.message, r.status);
		}
		const auth = { secret: String(r.body.secret) };
		const deadline = Date.now() + (m && typeof m.waitMs === 'number' ? m.waitMs : 10000);
		let t = r.body;
		while (t.state === 'pending' && Date.now() + (t.poll_after_ms || 2000) <= deadline) {
			await sleep(t.poll_after_ms || 2000);
			const p = await this.request('GET', '/api/tickets/' + encodeURIComponent(r.body.id), undefined, auth)
				.catch(() => null);
			if (p && p.ok && p.body)
				t = p.body;
		}
		return { id: r.body.id, state: String(t.state), ticketId: t.ticket_id || null };
	}

	/** What the visitor is told when deskbridge refused to start the chat; the refusal
	 * itself (which may name settings or fields) goes to the console.
	 * @param {{ code: string, message: string }} err */
	refusalText(err) {
		warn('the chat could not be started: ' + err.code, err.message);
		switch (err.code) {
		case 'agents_unavailable':
			return err.message || this.noAgentText();   /* the admin's message */
		case 'transfers_disabled':
			return this.noAgentText();
		case 'invalid_token':
		case 'invalid_user_payload':
		case 'anonymous_not_allowed':
			return this.strings.notRecognized;
		case 'rate_limited':
			return this.strings.tooManyRequests;
		default:
			return this.strings.couldNotConnect;
		}
	}

	/** Asks for the admin's avatar before events that name an agent without a picture are shown.
	 * @param {{ events?: any[] }} body */
	async avatarFor(body) {
		if ((body.events || []).some((ev) => ev && ev.agent && !ev.agent.avatar_url))
			await this.avatarChecked();
	}

	/** The admin's avatar, when one is set, for agents Zendesk gives no picture; asked once.
	 * @returns {Promise<string | null>} */
	avatarChecked() {
		if (!this.avatarCheck)
			this.avatarCheck = this.request('HEAD', '/api/avatar', undefined, null, undefined, this.timing.sendTimeoutMs)
				.then((r) => (r.ok ? this.base + '/api/avatar' : null), () => null)
				.then((url) => { this.avatar = url; return url; });
		return this.avatarCheck;
	}

	/** @param {any} connectMessage @returns {Promise<void>} */
	async startChat(connectMessage) {
		this.stopPolling();
		/** @type {() => void} */
		let settled = () => {};
		const starting = { cancelled: false, done: new Promise((resolve) => { settled = () => resolve(undefined); }) };
		this.starting = starting;
		try {
			await this.start(connectMessage, starting);
		} finally {
			if (this.starting === starting)
				this.starting = null;
			settled();
		}
	}

	/** @param {any} connectMessage @param {{ cancelled: boolean }} starting */
	async start(connectMessage, starting) {
		const stored = this.load();
		/* A transfer this tab had before a reload, which the host did not resume (it
		 * resumes only a chat an agent had joined): take it up again if it still waits. */
		if (stored && stored.id && await this.resume(stored, starting))
			return;
		const item = connectItem(connectMessage);
		const target = item.transfer_info && item.transfer_info.target && item.transfer_info.target.deskbridge;
		const pending = this.load();
		/* One id per attempt, kept across a reload with its secret: deskbridge answers a
		 * repeat that shows both with the same transfer, and nobody else's. */
		const again = pending && pending.requesting && pending.requestSecret;
		const clientRequestId = again ? pending.requesting : randomId();
		const clientSecret = again ? pending.requestSecret : randomSecret();
		this.save({ requesting: clientRequestId, requestSecret: clientSecret });
		/** @type {Record<string, unknown>} */
		const body = {
			message_to_human_agent: item.message_to_human_agent || null,
			history: this.history(),
			department: (target && target.department) || this.department,
			locale: this.locale,
			page_url: this.win && this.win.location ? String(this.win.location.href) : null,
			client_request_id: clientRequestId,
			client_secret: clientSecret,
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
			if (starting.cancelled) {
				this.clear();
				return;
			}
			r = await this.requestWithRetry('POST', '/api/transfers', body, null, 3);
		} catch (e) {
			this.clear();
			warn('deskbridge could not be reached to start the chat', e);
			this.errorStatus({ type: ErrorType.CONNECTING, messageToUser: this.strings.couldNotConnect, logInfo: e });
			throw e;
		}
		if (r.status !== 201) {
			this.clear();
			const err = (r.body && r.body.error) || { code: 'http_' + r.status, message: 'deskbridge answered ' + r.status };
			this.errorStatus({ type: ErrorType.CONNECTING, messageToUser: this.refusalText(err), logInfo: err });
			throw new DeskbridgeError(err.code, err.message, r.status);
		}
		/** @type {Transfer} */
		const t = { id: r.body.id, secret: r.body.secret, next: r.body.next || 0, pollMs: r.body.poll_after_ms || 1000,
			etag: null, agent: null, lastAgentSeq: 0, readSeq: 0, sent: {}, pending: [] };
		if (starting.cancelled) {
			this.clear();
			this.endOnServer(t);
			return;
		}
		this.t = t;
		this.persist();
		this.schedulePoll(0);
	}

	/** Resolves true when the stored transfer is this chat again; otherwise it is ended
	 * (or gone) and a new one is to be made.
	 * @param {Transfer} stored @param {{ cancelled: boolean }} starting */
	async resume(stored, starting) {
		let r = null;
		try {
			r = await this.request('GET', this.pathOf(stored, ''), undefined, stored);
		} catch (e) {
			r = null;
		}
		if (r && r.ok)
			await this.avatarFor(r.body);
		if (r && r.ok && r.body.state === 'waiting' && !starting.cancelled) {
			/* Replayed from the start: the host has seen none of it in this chat. */
			this.t = Object.assign(stored, { next: 0, etag: null, agent: null, outageSince: null });
			this.apply(r.body);
			if (this.t === stored) {
				this.persist();
				this.schedulePoll(stored.pollMs);
			}
			return true;
		}
		this.clear();
		if (!(r && (r.status === 401 || r.status === 404 || (r.ok && r.body.state === 'ended'))))
			this.endOnServer(stored);
		return false;
	}

	/* Called by the host after a page reload when the visitor was talking to an agent. */
	async reconnect() {
		const stored = this.load();
		if (!stored || !stored.id)
			return false;
		this.t = stored;
		let r;
		try {
			r = await this.request('GET', this.pathOf(stored, ''), undefined, stored);
		} catch (e) {
			this.schedulePoll(0);   /* offline for now: polling reports it and recovers */
			return true;
		}
		if (r.status === 401 || r.status === 404 || (r.ok && r.body.state === 'ended')) {
			this.t = null;
			this.clear();
			return false;
		}
		if (r.ok) {
			await this.avatarFor(r.body);
			this.apply(r.body);
		}
		for (const p of stored.pending.slice())
			this.deliver(stored, p.cmid, p.text, Date.now() + this.timing.sendTimeoutMs).catch(() => {});
		this.schedulePoll(stored.pollMs);
		if (stored.agent)
			this.offerFiles();
		return true;
	}

	/** additionalData.filesToUpload: the files the visitor attached; each is uploaded on its
	 * own, reported with setFileUploadStatus, and does not hold back the message.
	 * @param {any} message @param {string} messageID @param {{ filesToUpload?: FileUpload[] }} [additionalData]
	 * @returns {Promise<void>} */
	async sendMessageToAgent(message, messageID, additionalData) {
		const deadline = Date.now() + this.timing.sendTimeoutMs;
		const files = (additionalData && Array.isArray(additionalData.filesToUpload)) ? additionalData.filesToUpload : [];
		for (const f of files)
			this.upload(f).catch(() => {});
		const text = message && message.input && typeof message.input.text === 'string' ? message.input.text : '';
		/* The host lets the visitor type while the transfer is being made: hold the message until it exists. */
		if (!this.t && this.starting)
			await Promise.race([this.starting.done, sleep(Math.max(0, deadline - Date.now()))]);
		const t = this.t;
		if (!t) {
			if (messageID)
				this.errorStatus({ type: ErrorType.USER_MESSAGE, messageID, logInfo: 'no chat with an agent' });
			throw new DeskbridgeError('no_chat', 'There is no chat with an agent.');
		}
		if (!text.trim())
			return;
		const cmid = messageID || randomId();
		if (!t.pending.some((p) => p.cmid === cmid))
			t.pending.push({ cmid, text });
		this.persist();
		await this.deliver(t, cmid, text, deadline);
	}

	/** The visitor picked files: those deskbridge would refuse by their type or size are
	 * marked at once, in the input area, before they are sent.
	 * @param {FileUpload[]} uploads */
	filesSelectedForUpload(uploads) {
		for (const u of uploads || []) {
			const why = this.fileRefusal(u && u.file);
			if (why)
				this.call('setFileUploadStatus', u.id, true, why);
		}
	}

	/** What the visitor is told about a file deskbridge would refuse, or null.
	 * @param {{ name?: string, type?: string, size?: number } | null | undefined} file */
	fileRefusal(file) {
		if (!file)
			return this.strings.fileNotSent;
		const name = String(file.name || '').toLowerCase();
		const known = Object.entries(FILE_TYPES).some(([t, exts]) => file.type === t || exts.some((e) => name.endsWith(e)));
		if (!known)
			return this.strings.fileTypeNotAllowed;
		if (typeof file.size === 'number' && file.size > this.timing.maxFileBytes)
			return this.strings.fileTooLarge;
		return null;
	}

	/** Sends one file to the agent (POST /files) and tells the host how it went.
	 * @param {FileUpload} upload */
	async upload(upload) {
		const t = this.t;
		const why = this.fileRefusal(upload && upload.file);
		if (!t || why) {
			this.call('setFileUploadStatus', upload.id, true, why || this.strings.fileNotSent);
			return;
		}
		const form = new FormData();
		form.append('file', upload.file, upload.file.name);
		let r = null;
		try {
			r = await this.request('POST', this.pathOf(t, '/files'), form, t, undefined, this.timing.uploadTimeoutMs);
		} catch (e) {
			r = null;
		}
		if (r && r.ok) {
			this.call('setFileUploadStatus', upload.id);
			return;
		}
		const code = r && r.body && r.body.error ? r.body.error.code : 'unreachable';
		warn('a file was not sent (' + code + ')', r && r.body);
		this.call('setFileUploadStatus', upload.id, true, code === 'payload_too_large' ? this.strings.fileTooLarge
			: code === 'unsupported_media_type' ? this.strings.fileTypeNotAllowed : this.strings.fileNotSent);
	}

	/** @param {boolean} isTyping @returns {Promise<void>} */
	async userTyping(isTyping) {
		const t = this.t;
		if (!t)
			return;
		const now = Date.now();
		if (isTyping === this.typing.on && (!isTyping || now - this.typing.at < TYPING_REPEAT_MS))
			return;
		this.typing = { on: !!isTyping, at: now };
		/* The host shows a message where it is sent: what happened before it (an agent who
		 * joined) must be shown by then, so a visitor who starts writing gets it now. */
		if (isTyping)
			this.pollNow();
		await this.request('POST', this.pathOf(t, '/typing'), { typing: !!isTyping }, t).catch(() => {});
	}

	/** @returns {Promise<void>} */
	async userReadMessages() {
		const t = this.t;
		if (!t || t.lastAgentSeq <= t.readSeq)
			return;
		const seq = t.lastAgentSeq;
		const r = await this.request('POST', this.pathOf(t, '/read'), { seq }, t).catch(() => null);
		if (r && r.ok) {
			t.readSeq = Math.max(t.readSeq, seq);
			if (this.t === t)
				this.persist();
		}
	}

	/* The visitor (or the host) ends the chat: also while it is still being made, when
	 * the transfer is ended as soon as it exists. Resolves within the host's patience;
	 * the end is retried after that until deskbridge has it. */
	/** @returns {Promise<void>} */
	async endChat() {
		if (this.starting)
			this.starting.cancelled = true;
		const t = this.t;
		if (!t)
			return;
		this.finish();
		await Promise.race([this.endOnServer(t), sleep(this.timing.endChatWaitMs)]);
	}

	/* ---- ending on deskbridge ------------------------------------------------------- */

	/** Posts /end for t until deskbridge answers it (or says the transfer is gone). Kept in
	 * sessionStorage meanwhile, so a reload carries on with it.
	 * @param {{ id: string, secret: string }} t @returns {Promise<void>} */
	endOnServer(t) {
		const running = this.endings.get(t.id);
		if (running)
			return running;
		this.saveEndings([...this.loadEndings().filter((e) => e.id !== t.id), { id: t.id, secret: t.secret }]);
		const ending = (async () => {
			for (let attempt = 1; ; attempt++) {
				let r = null;
				try {
					r = await this.request('POST', this.pathOf(t, '/end'), undefined, t);
				} catch (e) {
					r = null;
				}
				if (r && (r.ok || r.status === 401 || r.status === 404))
					break;
				await sleep(r ? retryAfterMs(r, this.backoff(attempt)) : this.backoff(attempt));
			}
			this.endings.delete(t.id);
			this.saveEndings(this.loadEndings().filter((e) => e.id !== t.id));
		})();
		this.endings.set(t.id, ending);
		return ending;
	}

	/* ---- sending -------------------------------------------------------------------- */

	/** Posts one message until deskbridge has stored it, always with the same
	 * client_message_id, so a retry after a lost answer is not a second message; gives up
	 * at the deadline, which no request outlives.
	 * @param {Transfer} t @param {string} cmid @param {string} text @param {number} deadline */
	async deliver(t, cmid, text, deadline) {
		for (let attempt = 1; ; attempt++) {
			let r = null;
			try {
				r = await this.request('POST', this.pathOf(t, '/messages'), { client_message_id: cmid, text }, t,
					undefined, deadline - Date.now());
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
			const wait = r ? retryAfterMs(r, this.backoff(attempt)) : this.backoff(attempt);
			const retryable = !r || r.status === 429 || r.status >= 500;
			if (!retryable || Date.now() + wait >= deadline || this.t !== t) {
				t.pending = t.pending.filter((p) => p.cmid !== cmid);
				if (this.t === t)
					this.persist();
				const err = (r && r.body && r.body.error) || { code: 'unreachable', message: 'deskbridge could not be reached.' };
				if (this.t === t)
					this.errorStatus({ type: ErrorType.USER_MESSAGE, messageID: cmid, logInfo: err });
				throw new DeskbridgeError(err.code, err.message, r ? r.status : 0);
			}
			await sleep(wait);
		}
	}

	/** @param {Transfer} t */
	forgetOldSent(t) {
		const keys = Object.keys(t.sent);
		for (let i = 0; i < keys.length - SENT_REMEMBERED; i++)
			delete t.sent[keys[i]];
	}

	/* ---- polling -------------------------------------------------------------------- */

	/** @param {number} ms */
	schedulePoll(ms) {
		clearTimeout(this.timer);
		if (this.t)
			this.timer = setTimeout(() => this.poll(), ms);
	}

	stopPolling() {
		clearTimeout(this.timer);
		this.timer = undefined;
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
		if (this.hiddenSince !== null && Date.now() - this.hiddenSince > this.timing.stopWhenHiddenMs)
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
			delay = Math.max(delay, this.timing.hiddenPollMs);
		this.schedulePoll(delay);
	}

	/** One events request; returns how long to wait before the next.
	 * @param {Transfer} t @returns {Promise<number>} */
	async pollOnce(t) {
		/** @type {Record<string, string>} */
		const headers = t.etag ? { 'If-None-Match': t.etag } : {};
		let r;
		try {
			r = await this.request('GET', this.pathOf(t, '/events?after=' + t.next), undefined, t, headers);
		} catch (e) {
			return this.lostConnection(t, e, 0);
		}
		if (r.status === 304) {
			this.connected(t);
			return t.pollMs;
		}
		if (r.ok) {
			this.connected(t);
			t.etag = r.headers.get('ETag');
			await this.avatarFor(r.body);
			if (this.t === t)
				this.apply(r.body);
			return t.pollMs;
		}
		if (r.status === 401 || r.status === 404) {
			/* The transfer is gone (or its secret no longer works): nobody is on the other side. */
			this.ended(t, r.body && r.body.error);
			return 0;
		}
		if (r.status === 429)
			return retryAfterMs(r, t.pollMs * 2);
		return this.lostConnection(t, r.body && r.body.error, r.status === 503 ? retryAfterMs(r, 0) : 0);
	}

	/** @param {Transfer} t @param {unknown} info @param {number} atLeastMs */
	lostConnection(t, info, atLeastMs) {
		this.failures++;
		if (!t.agent) {
			/* Queued: the host would end a connecting chat on DISCONNECTED, so say nothing
			 * unless it lasts; then give up for both sides. */
			t.outageSince = t.outageSince || Date.now();
			if (Date.now() - t.outageSince >= this.timing.queuedGiveUpMs) {
				this.finish();
				this.endOnServer(t);
				warn('deskbridge stayed unreachable while the visitor waited; the chat was given up', info);
				this.errorStatus({ type: ErrorType.CONNECTING, logInfo: info, messageToUser: this.strings.connectionLost });
			}
		} else if (this.failures >= 2 && !this.disconnected) {
			/* One failed request is a blip; the second in a row is worth telling the visitor. */
			this.disconnected = true;
			this.errorStatus({ type: ErrorType.DISCONNECTED, isDisconnected: true, logInfo: info });
		}
		return Math.max(atLeastMs, this.backoff(this.failures));
	}

	/** @param {Transfer} t */
	connected(t) {
		this.failures = 0;
		t.outageSince = null;
		if (this.disconnected) {
			this.disconnected = false;
			this.errorStatus({ type: ErrorType.DISCONNECTED, isDisconnected: false });
		}
	}

	/** @param {number} attempt */
	backoff(attempt) {
		const ms = Math.min(this.timing.maxBackoffMs, this.timing.minBackoffMs * 2 ** Math.min(attempt - 1, 16));
		return ms / 2 + Math.random() * ms / 2;
	}

	/* ---- events --------------------------------------------------------------------- */

	/** Applies a transfer's events in seq order, each once, whoever asked for them.
	 * @param {{ poll_after_ms?: number, events?: any[] }} body */
	apply(body) {
		const t = this.t;
		if (!t)
			return;
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

	/** @param {Transfer} t @param {any} ev */
	handle(t, ev) {
		switch (ev.type) {
		case 'queued':
			if (this.host === 'carbon')
				this.carbonCall('updateAgentAvailability', CARBON_SHAPES.availability(ev));
			else
				this.webChatCall('updateAgentAvailability', WEB_CHAT_SHAPES.availability(ev));
			break;
		case 'agent_joined':
			t.agent = baseProfile(ev.agent, this.avatar);
			this.persist();
			this.joined(ev.agent, false);
			this.offerFiles();
			break;
		case 'agent_left':
			this.call('agentLeftChat');
			break;
		case 'agent_typing':
			this.call('agentTyping', !!ev.typing);
			break;
		case 'message':
			this.message(t, ev);
			break;
		case 'read':
			this.call('agentReadMessages');
			break;
		case 'transferred':
			this.joined(ev.agent, true);
			break;
		case 'error':
			this.error(t, ev);
			break;
		case 'ended':
			this.ended(t, ev);
			break;
		default:
			break;   /* a newer deskbridge's event this client does not know: skipped, not fatal */
		}
	}

	/** agentJoined, or beginTransferToAnotherAgent (whose profile is optional), in the host's shape.
	 * @param {EventAgent | null | undefined} agent @param {boolean} transfer */
	joined(agent, transfer) {
		if (this.host === 'carbon') {
			const p = agent || !transfer ? CARBON_SHAPES.profile(agent, this.avatar) : undefined;
			if (transfer)
				this.carbonCall('beginTransferToAnotherAgent', p);
			else
				this.carbonCall('agentJoined', CARBON_SHAPES.profile(agent, this.avatar));
		} else {
			const p = agent || !transfer ? WEB_CHAT_SHAPES.profile(agent, this.avatar) : undefined;
			if (transfer)
				this.webChatCall('beginTransferToAnotherAgent', p);
			else
				this.webChatCall('agentJoined', WEB_CHAT_SHAPES.profile(agent, this.avatar));
		}
	}

	/** With an agent, the visitor may attach files (the hosts show their upload button).
	 * Carbon AI Chat's ServiceDeskCallback.updateCapabilities; Web Chat's the same. */
	offerFiles() {
		this.call('updateCapabilities', { allowFileUploads: true, allowMultipleFileUploads: true,
			allowedFileUploadTypes: ACCEPTED_FILES });
	}

	/** The chat is over on deskbridge's side. Before an agent joined, the host is told it
	 * could not connect (it ends a connecting chat on that); after, that the agent ended it.
	 * @param {Transfer} t @param {unknown} info */
	ended(t, info) {
		this.finish();
		if (t.agent)
			this.call('agentEndedChat');
		else
			this.errorStatus({ type: ErrorType.CONNECTING, logInfo: info, messageToUser: this.strings.noAgentTook });
	}

	/** @param {Transfer} t @param {any} ev */
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
				t.agent = baseProfile(ev.agent, this.avatar);
			this.persist();
		}
		const agentID = (ev.agent && ev.agent.id) || (t.agent && t.agent.id) || 'agent';
		const media = ev.media ? this.mediaResponse(ev.media, ev.text) : null;
		if (media)
			this.call('sendMessageToUser', media, agentID);
		else if (ev.text)
			this.call('sendMessageToUser', String(ev.text), agentID);
	}

	/** An agent's image or file as the hosts' message items: an image item, or a link
	 * in a text item, with the agent's text; null when the address is not one of
	 * Zendesk's (then only the text is shown).
	 * @param {EventMedia} media @param {unknown} text */
	mediaResponse(media, text) {
		const url = mediaUrl(media.url);
		if (!url)
			return null;
		const name = typeof media.alt_text === 'string' && media.alt_text ? media.alt_text : 'file';
		/** @type {{ response_type: string, text?: string, source?: string, alt_text?: string }[]} */
		const generic = [];
		if (typeof text === 'string' && text)
			generic.push({ response_type: 'text', text });
		if (media.kind === 'image')
			generic.push({ response_type: 'image', source: url, alt_text: name });
		else
			generic.push({ response_type: 'text', text: '[' + literal(name) + '](' + url.replace(/[()]/g, (c) => (c === '(' ? '%28' : '%29')) + ')' });
		/* Both hosts name the item types by string; Carbon's declaration is its own enum. */
		return /** @type {import('ibm-web-chat').MessageResponse & import('@carbon/ai-chat').MessageResponse} */ (
			/** @type {unknown} */ ({ output: { generic } }));
	}

	/** @param {Transfer} t @param {any} ev */
	error(t, ev) {
		if (ev.code === 'delivery_failed') {
			const cmid = Object.keys(t.sent).find((k) => t.sent[k] === ev.message_seq);
			this.errorStatus({ type: ErrorType.USER_MESSAGE, messageID: cmid || ev.message_id, logInfo: ev });
		} else if (!t.agent) {
			/* The handoff failed: deskbridge ends the transfer; so does the host, on CONNECTING. */
			this.finish();
			this.endOnServer(t);
			warn('the handoff to Zendesk failed (the server log says why)', ev);
			this.errorStatus({ type: ErrorType.CONNECTING, logInfo: ev, messageToUser: this.strings.couldNotConnect });
		} else {
			this.errorStatus({ type: ErrorType.DISCONNECTED, isDisconnected: true, logInfo: ev });
		}
	}

	finish() {
		this.stopPolling();
		this.t = null;
		this.failures = 0;
		this.disconnected = false;
		this.clear();
	}

	/* ---- calling the host ----------------------------------------------------------- */

	/** A callback both hosts take alike: its arguments must fit both declarations.
	 * @template {keyof WebChatCallback & keyof CarbonCallback} K
	 * @param {K} name @param {Parameters<WebChatCallback[K]> & Parameters<CarbonCallback[K]>} args */
	call(name, ...args) {
		this.invoke(name, args);
	}

	/** setErrorStatus, whose info tests/webchat/hosts.check.ts holds to both hosts' declarations
	 * (each host has an ErrorType enum of its own, so no one type names both).
	 * @param {ErrorInfo} info */
	errorStatus(info) {
		this.invoke('setErrorStatus', [info]);
	}

	/** @template {keyof WebChatCallback} K @param {K} name @param {Parameters<WebChatCallback[K]>} args */
	webChatCall(name, ...args) {
		this.invoke(name, args);
	}

	/** @template {keyof CarbonCallback} K @param {K} name @param {Parameters<CarbonCallback[K]>} args */
	carbonCall(name, ...args) {
		this.invoke(name, args);
	}

	/** A callback the host lacks (older versions) is skipped; one that throws or rejects
	 * does not stop the chat, nor surface as an unhandled rejection.
	 * @param {string} name @param {unknown[]} args */
	invoke(name, args) {
		const fn = this.callback && this.callback[name];
		if (typeof fn !== 'function')
			return;
		/** @param {unknown} e */
		const report = (e) => {
			if (globalThis.console)
				globalThis.console.error('deskbridge: the chat host\'s callback ' + name + ' failed', e);
		};
		try {
			const result = fn.apply(this.callback, args);
			if (result && typeof result.then === 'function')
				result.then(undefined, report);
		} catch (e) {
			report(e);
		}
	}

	/* ---- HTTP and storage ----------------------------------------------------------- */

	/** @param {{ from: string, text: string, time?: string | null }[]} [given] */
	history(given = this.getHistory ? this.getHistory() : this.botHistory) {
		return (given || []).slice(-HISTORY_MAX).map((/** @type {any} */ h) => ({
			from: h.from === 'user' ? 'user' : 'assistant',
			text: String(h.text == null ? '' : h.text).slice(0, TEXT_MAX),
			time: h.time || null,
		})).filter((/** @type {{ text: string }} */ h) => h.text);
	}

	/** @param {{ id: string }} t @param {string} suffix */
	pathOf(t, suffix) {
		return '/api/transfers/' + encodeURIComponent(t.id) + suffix;
	}

	/** auth: the transfer whose secret is the Bearer, or nothing. A request is abandoned
	 * after timeoutMs (default requestTimeoutMs), so none hangs the chat.
	 * @param {string} method @param {string} path @param {unknown} [body]
	 * @param {{ secret: string } | null} [auth] @param {Record<string, string>} [extraHeaders]
	 * @param {number} [timeoutMs] */
	async request(method, path, body, auth, extraHeaders, timeoutMs) {
		/** @type {Record<string, string>} */
		const headers = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
		if (auth)
			headers.Authorization = 'Bearer ' + auth.secret;
		const form = typeof FormData === 'function' && body instanceof FormData;
		/* fetch writes a form's multipart Content-Type, with its boundary, itself. */
		if (body !== undefined && !form)
			headers['Content-Type'] = 'application/json';
		const abort = typeof AbortController === 'function' ? new AbortController() : null;
		const timer = abort ? setTimeout(() => abort.abort(), Math.max(0, timeoutMs === undefined ? this.timing.requestTimeoutMs : timeoutMs)) : undefined;
		try {
			const response = await this.fetch(this.base + path, {
				method, headers, body: body === undefined ? undefined : form ? /** @type {FormData} */ (body) : JSON.stringify(body),
				cache: 'no-store', credentials: 'omit', signal: abort ? abort.signal : undefined,
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
		} finally {
			clearTimeout(timer);
		}
	}

	/** @param {string} method @param {string} path @param {unknown} body @param {{ secret: string } | null} auth @param {number} attempts */
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

	/** @param {unknown} value @param {string} [key] */
	save(value, key = STORAGE_KEY) {
		try {
			if (this.storage)
				this.storage.setItem(key, JSON.stringify(value));
		} catch (e) {
			/* full or disabled storage: the chat goes on, only a reload will not resume it */
		}
	}

	/** @param {string} [key] @returns {any} */
	read(key = STORAGE_KEY) {
		try {
			const raw = this.storage && this.storage.getItem(key);
			return raw ? JSON.parse(raw) : null;
		} catch (e) {
			return null;
		}
	}

	/** @returns {any} */
	load() {
		const v = this.read();
		if (v && v.id) {
			v.sent = v.sent || {};
			v.pending = v.pending || [];
		}
		return v;
	}

	clear() {
		try {
			if (this.storage)
				this.storage.removeItem(STORAGE_KEY);
		} catch (e) {
			/* nothing to undo */
		}
	}

	/** @returns {{ id: string, secret: string }[]} */
	loadEndings() {
		const v = this.read(ENDING_KEY);
		return Array.isArray(v) ? v.filter((e) => e && typeof e.id === 'string' && typeof e.secret === 'string') : [];
	}

	/** @param {{ id: string, secret: string }[]} endings */
	saveEndings(endings) {
		if (endings.length)
			this.save(endings, ENDING_KEY);
		else
			try {
				if (this.storage)
					this.storage.removeItem(ENDING_KEY);
			} catch (e) {
				/* nothing to undo */
			}
	}

	/* Whether this tab holds a chat with an agent that reconnect() can resume. */
	hasChatToResume() {
		const v = this.load();
		return !!(v && v.id && v.agent);
	}
}

/** options:
 *   baseUrl      where deskbridge is served, e.g. 'https://support.example' (required); an
 *                origin other than the page's must be in deskbridge's security.allowed_origins
 *                (every call is made without cookies: credentials 'omit')
 *   host         'webchat' (IBM watsonx Assistant Web Chat) or 'carbon' (Carbon AI Chat);
 *                by default told apart by what the host passes to the factory
 *   getToken     () => the site's JWT for this visitor (string or Promise), when the
 *                deployment authenticates visitors
 *   visitor      {name, email}, used only when the deployment does not authenticate visitors
 *   department   routes the conversation in Zendesk (else transfer_info.target.deskbridge.department
 *                of the connect_to_agent response, else the admin's default)
 *   locale, getHistory () => [{from: 'user'|'assistant', text, time}] (else what the host's
 *                send/receive events showed), onVisitorMessageFromAnotherTab (text)
 *   strings      {agentsUnavailable, couldNotConnect, ...}: the texts of Strings the
 *                visitor may read, each replaceable (a translation)
 *   sendTimeoutMs, endChatWaitMs, queuedGiveUpMs, ... the timings of Defaults
 * @param {any} options @returns {(parameters: any) => DeskbridgeServiceDesk} */
function createServiceDeskFactory(options) {
	return (parameters) => new DeskbridgeServiceDesk(parameters || {}, options);
}

/** Carbon AI Chat's serviceDeskFactory is declared to return a Promise.
 * @param {any} options @returns {(parameters: any) => Promise<DeskbridgeServiceDesk>} */
function createCarbonServiceDeskFactory(options) {
	return async (parameters) => new DeskbridgeServiceDesk(parameters || {}, Object.assign({ host: 'carbon' }, options));
}

export { ErrorType, Defaults, Strings, DeskbridgeError, DeskbridgeServiceDesk, createServiceDeskFactory, createCarbonServiceDeskFactory };
