// tests/webchat/mock-host.mjs — a chat host (IBM Web Chat or Carbon AI Chat) in Node, for
// driving deskbridge-webchat.js as the real hosts do. It keeps the hosts' rules about
// when a service desk's calls count, each rule's source named where it is kept:
//
//   [C] @carbon/ai-chat 1.9.1, dist/es/chat.ChatAppEntry.js: HumanAgentServiceImpl and
//       ServiceDeskCallbackImpl (what Carbon AI Chat does), and dist/types/serverEntry-*.d.ts
//       (ServiceDesk, ServiceDeskCallback, ErrorType: what it promises).
//   [W] IBM's service desk types for Web Chat (tests/webchat/ibm-web-chat.d.ts says where
//       they are published): the same doc comments on ErrorType as [C]'s.
//
// Where Web Chat's own code cannot be read (it is served, not published), its rules are
// taken to be Carbon's, which descends from it; that is the stricter reading wherever
// they could differ, since Carbon drops more (every callback outside a running chat).
//
// A reload is a new MockHost on the same `storage` (the tab's sessionStorage): the host
// keeps there whether an agent had joined, as [C] keeps persistedToBrowserStorage.

/* [C] and [W] ErrorType: the host's own values, not the library's. */
const ErrorType = Object.freeze({ CONNECTING: 1, DISCONNECTED: 2, USER_MESSAGE: 3 });

/* [C] SEND_TIMEOUT_ERROR_MS and END_CHAT_TIMEOUT_MS. */
export const HOST_SEND_TIMEOUT_MS = 20000;
export const HOST_END_CHAT_WAIT_MS = 5000;

const HOST_KEY = 'mockhost.humanAgentState';

export function memoryStorage() {
	const m = new Map();
	return { map: m, getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)),
		removeItem: (k) => m.delete(k) };
}

export class MockHost {
	/* flavor: 'webchat' | 'carbon' (what the factory is handed, and the shapes checked).
	 * factory: the library's serviceDeskFactory. sendTimeoutMs / endChatWaitMs: the host's
	 * own timers, shortened by a test where waiting 20 s would be too slow. */
	constructor({ flavor = 'webchat', factory, storage = memoryStorage(), sendTimeoutMs = HOST_SEND_TIMEOUT_MS,
		endChatWaitMs = HOST_END_CHAT_WAIT_MS, rejectingCallbacks = [] }) {
		this.flavor = flavor;
		this.factory = factory;
		this.storage = storage;
		this.sendTimeoutMs = sendTimeoutMs;
		this.endChatWaitMs = endChatWaitMs;
		this.rejectingCallbacks = new Set(rejectingCallbacks);
		this.chatStarted = false;
		this.isConnecting = false;
		this.transcript = [];      // what the visitor is shown: [kind, ...details]
		this.ignored = [];         // callbacks the host dropped, as [C] does outside a chat
		this.violations = [];      // arguments a host would not take
		this.messages = new Map(); // messageID -> 'sending' | 'sent' | 'failed'
		this.flips = [];           // messages shown failed, then sent
		this.callback = this.makeCallback();
	}

	get isConnected() {
		return !!this.persisted().isConnected;
	}

	persisted() {
		try {
			return JSON.parse(this.storage.getItem(HOST_KEY)) || {};
		} catch (e) {
			return {};
		}
	}

	persist(state) {
		this.storage.setItem(HOST_KEY, JSON.stringify(state));
	}

	/* [C] initialize() then handleHydration(): the factory (whose result is awaited, so it
	 * may be a Promise), then reconnect() only when an agent had joined before the reload. */
	async load() {
		const parameters = { callback: this.callback, instance: null };
		if (this.flavor === 'carbon')
			parameters.persistedState = undefined;
		this.desk = await this.factory(parameters);
		if (!this.isConnected)
			return false;
		this.chatStarted = true;
		let resumed = false;
		try {
			resumed = await this.desk.reconnect();
		} catch (e) {
			this.transcript.push(['reconnect failed', String(e)]);
		}
		if (!resumed) {
			this.stop();
			this.transcript.push(['chat was ended']);
		}
		return resumed;
	}

	/* [C] startChat: refused while a chat runs; a rejected startChat is followed by the
	 * host's own setErrorStatus(CONNECTING). */
	async startChat(connectMessage) {
		if (this.chatStarted)
			throw new Error('A chat is already running');
		this.chatStarted = true;
		this.isConnecting = true;
		try {
			await this.desk.startChat(connectMessage, { preStartChatPayload: null });
		} catch (error) {
			await this.callback.setErrorStatus({ type: ErrorType.CONNECTING, logInfo: error });
			this.stop();
			return false;
		}
		return true;
	}

	/* [C] endChat / doEndChat: only while a chat runs (connecting included); waits for the
	 * service desk at most END_CHAT_TIMEOUT_MS, then ends the chat whatever it said. */
	async endChat() {
		if (!this.chatStarted)
			return;
		let timer;
		await Promise.race([
			this.desk.endChat({ preEndChatPayload: null, endedByHumanAgent: false }).catch(() => {}),
			new Promise((r) => { timer = setTimeout(r, this.endChatWaitMs); }),
		]);
		clearTimeout(timer);
		this.transcript.push(['you ended the chat']);
		this.stop();
	}

	/* [C] sendMessageToAgent: only while a chat runs (connecting included); the message is
	 * shown failed SEND_TIMEOUT_ERROR_MS after it was sent if it has not succeeded, and a
	 * later success shows it sent again. That flip is what a test must never see. */
	async send(text) {
		if (!this.chatStarted)
			return null;
		const id = 'host-msg-' + (this.messages.size + 1);
		this.messages.set(id, 'sending');
		const timer = setTimeout(() => {
			if (this.messages.get(id) === 'sending')
				this.messages.set(id, 'failed');
		}, this.sendTimeoutMs);
		try {
			await this.desk.sendMessageToAgent({ input: { text, message_type: 'text' } }, id, { filesToUpload: [] });
			if (this.messages.get(id) === 'failed')
				this.flips.push(id);
			this.messages.set(id, 'sent');
		} catch (e) {
			this.messages.set(id, 'failed');
		}
		clearTimeout(timer);
		return id;
	}

	stop() {
		this.chatStarted = false;
		this.isConnecting = false;
		this.persist({ isConnected: false });
	}

	makeCallback() {
		const host = this;
		const check = (cond, what) => {
			if (!cond)
				host.violations.push(what);
		};
		const profileOk = (p, what) => {
			check(p && typeof p.id === 'string' && typeof p.nickname === 'string', what + ': profile needs id and nickname strings');
			if (p && p.profile_picture_url !== undefined)
				check(typeof p.profile_picture_url === 'string', what + ': profile_picture_url is a string');
			/* [C] ResponseUserProfile.user_type is required; [W] AgentProfile has none. */
			if (host.flavor === 'carbon')
				check(p && p.user_type === 'human', what + ': Carbon needs user_type "human"');
		};
		/* [C] every callback below returns early unless a chat is running. */
		const guarded = (name, fn) => async (...args) => {
			if (!host.chatStarted) {
				host.ignored.push([name, ...args]);
				return;
			}
			await fn(...args);
			if (host.rejectingCallbacks.has(name))
				throw new Error('the host rejected ' + name);
		};
		return {
			updateAgentAvailability: guarded('updateAgentAvailability', (a) => {
				const keys = host.flavor === 'carbon' ? ['positionInQueue', 'estimatedWaitTime', 'message']
					: ['position_in_queue', 'estimated_wait_time', 'message'];
				check(a && Object.keys(a).every((k) => keys.includes(k)), 'updateAgentAvailability: fields ' + JSON.stringify(a));
				host.transcript.push(['availability', a]);
			}),
			agentJoined: guarded('agentJoined', (profile) => {
				profileOk(profile, 'agentJoined');
				host.isConnecting = false;
				host.persist({ isConnected: true });
				host.transcript.push(['agent joined', profile && profile.nickname]);
			}),
			agentReadMessages: guarded('agentReadMessages', () => { host.transcript.push(['read']); }),
			agentTyping: guarded('agentTyping', (typing) => {
				check(typeof typing === 'boolean', 'agentTyping: a boolean');
				host.transcript.push(['typing', typing]);
			}),
			sendMessageToUser: guarded('sendMessageToUser', (message, agentID) => {
				check(typeof message === 'string' || (message && message.output), 'sendMessageToUser: a string or a MessageResponse');
				/* [W] declares agentID required. */
				check(typeof agentID === 'string', 'sendMessageToUser: agentID');
				host.transcript.push(['agent says', message]);
			}),
			beginTransferToAnotherAgent: guarded('beginTransferToAnotherAgent', (profile) => {
				if (profile !== undefined)
					profileOk(profile, 'beginTransferToAnotherAgent');
				host.transcript.push(['transfer', profile && profile.nickname]);
			}),
			agentLeftChat: guarded('agentLeftChat', () => { host.transcript.push(['agent left']); }),
			agentEndedChat: guarded('agentEndedChat', () => {
				host.transcript.push(['agent ended the chat']);
				host.stop();
			}),
			/* [C] setErrorStatus: a DISCONNECTED while connecting is a CONNECTING; a
			 * CONNECTING ends the chat; USER_MESSAGE marks that message failed. */
			setErrorStatus: guarded('setErrorStatus', (info) => {
				check(info && [ErrorType.CONNECTING, ErrorType.DISCONNECTED, ErrorType.USER_MESSAGE].includes(info.type),
					'setErrorStatus: type ' + (info && info.type));
				let type = info.type;
				if (host.isConnecting && type === ErrorType.DISCONNECTED && info.isDisconnected)
					type = ErrorType.CONNECTING;
				if (type === ErrorType.CONNECTING) {
					host.transcript.push(['could not connect', info.messageToUser || null]);
					host.stop();
				} else if (type === ErrorType.DISCONNECTED) {
					check(typeof info.isDisconnected === 'boolean', 'setErrorStatus: isDisconnected');
					host.transcript.push([info.isDisconnected ? 'disconnected' : 'reconnected']);
				} else {
					check(typeof info.messageID === 'string', 'setErrorStatus: messageID');
					host.messages.set(info.messageID, 'failed');
				}
			}),
		};
	}
}
