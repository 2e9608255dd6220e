/* www/setup/setup.js — the admin setup form. Talks to /api/setup/... (see docs/api.md).
 *
 * Plain script, no build step. Served under a strict CSP (default-src 'self'): no inline
 * scripts or styles, so everything is wired here. Text from the API is always set with
 * textContent. The CSRF token lives only in this closure: a reloaded page asks the server
 * for it again (GET /api/setup/session), which answers it while the session is live. */
(function () {
	'use strict';

	var csrf = null;       // in memory only, never in web storage
	var config = null;     // the last configuration the server answered
	var siteKeys = [];     // [{kid, pem, bits}] as currently edited
	var keysChanged = false;

	function $(sel, root) { return (root || document).querySelector(sel); }
	function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}
	function show(e, on) { e.hidden = !on; }
	function setText(e, text) { e.textContent = text == null ? '' : String(text); }
	function getPath(obj, path) {
		return path.split('.').reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
	}
	function setPath(obj, path, value) {
		var parts = path.split('.');
		var o = obj;
		for (var i = 0; i < parts.length - 1; i++) {
			if (typeof o[parts[i]] !== 'object' || o[parts[i]] === null) o[parts[i]] = {};
			o = o[parts[i]];
		}
		o[parts[parts.length - 1]] = value;
	}
	function formatTime(iso) {
		if (!iso) return '';
		var d = new Date(iso);
		return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
	}
	function timeEl(iso) {
		var t = el('time', {datetime: String(iso)}, formatTime(iso));
		return t;
	}

	/* ---- HTTP ------------------------------------------------------------------------- */

	var STATUS_TEXT = {
		0: 'Could not reach deskbridge. Check your connection and try again.',
		404: 'This server does not offer this feature yet. Update deskbridge and try again.',
		413: 'That is larger than the server accepts.',
		415: 'The server does not accept this type of file.',
		429: 'Too many attempts. Wait a moment, then try again.',
		502: 'deskbridge could not get a proper answer from Zendesk.',
		503: 'This is not available right now.'
	};

	function api(method, path, body, raw) {
		var headers = {};
		var init = {method: method, headers: headers, credentials: 'same-origin', cache: 'no-store'};
		if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
		if (raw) {
			headers['Content-Type'] = raw.type;
			init.body = raw.body;
		} else if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		} else if (method !== 'GET') {
			headers['Content-Type'] = 'application/json';
		}
		return fetch(path, init).then(function (res) {
			return res.text().then(function (text) {
				var data = null;
				if (text) {
					try { data = JSON.parse(text); } catch (e) { data = null; }
				}
				if (res.ok) return {ok: true, status: res.status, data: data};
				var error = data && data.error && typeof data.error === 'object' ? data.error : {};
				if (res.status === 404 && (!error.code || error.code === 'not_found'))
					error = {code: 'not_found', message: STATUS_TEXT[404]};
				if (!error.message)
					error.message = STATUS_TEXT[res.status] || ('The server answered with an error (HTTP ' + res.status + ').');
				if (res.status === 401 && error.code === 'unauthenticated') sessionEnded();
				return {ok: false, status: res.status, error: error, retryAfter: res.headers.get('Retry-After')};
			});
		}, function () {
			return {ok: false, status: 0, error: {code: 'network', message: STATUS_TEXT[0]}};
		});
	}

	/* ---- login / logout ------------------------------------------------------------------ */

	var loginView, appView, loginForm, loginError, passwordInput, logoutButton;

	function showLogin(message) {
		csrf = null;
		config = null;
		show(appView, false);
		show(logoutButton, false);
		show(loginView, true);
		setText(loginError, message || '');
		show(loginError, !!message);
		passwordInput.value = '';
		passwordInput.focus();
	}

	function sessionEnded() {
		if (csrf) showLogin('Your session has ended. Log in again to continue.');
	}

	function onLogin(ev) {
		ev.preventDefault();
		var button = $('#login-submit');
		show(loginError, false);
		passwordInput.removeAttribute('aria-invalid');
		if (!passwordInput.value) {
			setText(loginError, 'Enter the admin password.');
			show(loginError, true);
			passwordInput.setAttribute('aria-invalid', 'true');
			passwordInput.focus();
			return;
		}
		button.disabled = true;
		api('POST', '/api/setup/session', {password: passwordInput.value}).then(function (r) {
			button.disabled = false;
			if (!r.ok) {
				setText(loginError, r.error.message);
				show(loginError, true);
				passwordInput.setAttribute('aria-invalid', 'true');
				passwordInput.select();
				return;
			}
			enterApp(r.data && r.data.csrf_token);
		});
	}

	function enterApp(token) {
		csrf = token;
		passwordInput.value = '';
		show(loginView, false);
		show(appView, true);
		show(logoutButton, true);
		$('#app-title').focus();
		loadAll();
		document.dispatchEvent(new CustomEvent('deskbridge:signed-in'));
	}

	/* After a reload: the session cookie outlives the page, the token does not. */
	function restoreSession() {
		api('GET', '/api/setup/session').then(function (r) {
			if (r.ok && r.data && r.data.csrf_token && !csrf) enterApp(r.data.csrf_token);
		});
	}

	function onLogout() {
		api('DELETE', '/api/setup/session').then(function () {
			clearCredentials();
			showLogin('');
			show(loginError, false);
		});
	}

	/* ---- configuration form ---------------------------------------------------------------- */

	var form, saveStatus, formError;

	function clearErrors() {
		$$('[data-error-for]').forEach(function (e) {
			if (e.dataset.errorFor === 'avatar') return;
			setText(e, '');
			show(e, false);
		});
		$$('[aria-invalid]', form).forEach(function (e) { e.removeAttribute('aria-invalid'); });
		setText(formError, '');
		show(formError, false);
	}

	function errorBox(name) {
		return $$('[data-error-for]').filter(function (e) { return e.dataset.errorFor === name; })[0] || null;
	}

	function inputsFor(field) {
		if (field === 'security.site_public_keys') return [$('#new-key-pem'), $('#new-key-kid')];
		return $$('[data-field="' + field + '"], [data-secret="' + field + '"]');
	}

	/* Shows an API error next to the field it names (or the nearest enclosing one). */
	function showFieldError(field, message) {
		var name = field || '';
		var target = null;
		while (name) {
			target = errorBox(name);
			if (target) break;
			var m = name.match(/^(.*)(\.[^.]*|\[\d+\])$/);
			name = m ? m[1] : '';
		}
		if (!target) {
			setText(formError, message);
			show(formError, true);
			return null;
		}
		setText(target, message);
		show(target, true);
		var inputs = inputsFor(name);
		inputs.forEach(function (i) { if (i) i.setAttribute('aria-invalid', 'true'); });
		var details = target.closest('details');
		if (details) details.open = true;
		return inputs[0] || null;
	}

	/* The field's label as the admin reads it, without "(optional)" or a secret's badge. */
	function labelOf(input) {
		var label = input && input.labels && input.labels[0];
		if (!label) return input ? input.dataset.field || input.dataset.secret || '' : '';
		var copy = label.cloneNode(true);
		$$('.optional, .badge', copy).forEach(function (e) { e.remove(); });
		return copy.textContent.replace(/\s+/g, ' ').trim();
	}

	/* What admins paste for their Zendesk, as the server reads it too (lib/config.c):
	 * "acme.zendesk.com" and "https://acme.zendesk.com/agent" both mean "acme". */
	function normalizeSubdomain(v) {
		var s = v.trim().replace(/^https?:\/\//i, '');
		s = s.split(/[\/?#:]/)[0];
		s = s.replace(/\.zendesk\.com$/i, '');
		return s.toLowerCase();
	}

	function fieldValue(input) {
		if (input.type === 'checkbox') return input.checked;
		var s = input.value;
		if (input.dataset.type === 'int') {
			s = s.trim();
			if (s === '') return null;
			return /^-?\d+$/.test(s) ? Number(s) : s;
		}
		if (input.tagName !== 'TEXTAREA') s = s.trim();
		return s.trim() === '' ? null : s;
	}

	function buildPatch() {
		var patch = {};
		var n = 0;
		$$('[data-field]', form).forEach(function (input) {
			var name = input.dataset.field;
			var current = getPath(config, name);
			var value = fieldValue(input);
			if (current === undefined) current = null;
			if (value !== current) { setPath(patch, name, value); n++; }
		});
		$$('[data-secret]', form).forEach(function (input) {
			var name = input.dataset.secret;
			var clear = $('[data-secret-clear="' + name + '"]', form);
			if (clear && clear.checked) { setPath(patch, name, null); n++; }
			else if (input.value !== '') { setPath(patch, name, input.value); n++; }
		});
		var kid = $('#new-key-kid').value.trim();
		var pem = $('#new-key-pem').value.trim();
		if (keysChanged || pem || kid) {
			var list = siteKeys.map(function (k) { return {kid: k.kid, pem: k.pem}; });
			if (pem || kid) list.push({kid: kid, pem: pem});
			setPath(patch, 'security.site_public_keys', list);
			n++;
		}
		return n ? patch : null;
	}

	function updateDirty() {
		var patch = config ? buildPatch() : null;
		setText(saveStatus, patch ? 'You have unsaved changes.' : 'All changes are saved.');
		saveStatus.classList.toggle('dirty', !!patch);
	}

	/* A refused save: the message beside its field, the save bar pointing up at it. */
	function saveRefused(field, message) {
		var focus = showFieldError(field, message);
		setText(saveStatus, focus ? 'Nothing was saved: fix the field marked above and try again.'
			: 'Nothing was saved: see why below.');
		saveStatus.classList.add('dirty');
		if (focus) {
			focus.focus();
			focus.scrollIntoView({block: 'center'});
		}
		return false;
	}

	/* Number fields holding something that is not a number read as empty; say so rather
	 * than reset them to their default. */
	function badNumber() {
		return $$('input[data-type="int"]', form).filter(function (i) { return i.validity.badInput; })[0] || null;
	}

	/* Authenticate users with no site key refuses every visitor: the admin confirms it. */
	function noSiteKeys() {
		return $('#authenticate-users').checked && siteKeys.length === 0 && !$('#new-key-pem').value.trim();
	}

	function save() {
		clearErrors();
		var bad = badNumber();
		if (bad) return Promise.resolve(saveRefused(bad.dataset.field, labelOf(bad) +
			': enter a whole number, or leave it empty for the default.'));
		var patch = buildPatch();
		if (!patch) {
			setText(saveStatus, 'No changes to save.');
			return Promise.resolve(true);
		}
		var sec = patch.security || {};
		if (noSiteKeys() && ('authenticate_users' in sec || 'site_public_keys' in sec) && !window.confirm(
			'Authenticate users is on, but no site public key is set: deskbridge will refuse every transfer ' +
			'until you add one. Save anyway?')) {
			setText(saveStatus, 'Nothing was saved: add a site public key, or turn Authenticate users off.');
			saveStatus.classList.add('dirty');
			$('#new-key-kid').focus();
			return Promise.resolve(false);
		}
		var defaulted = $$('input[data-type="int"]', form).filter(function (i) {
			return getPath(patch, i.dataset.field) === null;
		});
		var button = $('#save');
		button.disabled = true;
		setText(saveStatus, 'Saving…');
		return api('PATCH', '/api/setup/config', patch).then(function (r) {
			button.disabled = false;
			if (!r.ok) {
				if (r.status === 401) return false;
				return saveRefused(r.error.field, r.error.message);
			}
			fill(r.data);
			var said = defaulted.map(function (i) {
				return ' ' + labelOf(i) + ' is back to its default, ' + getPath(r.data, i.dataset.field) + '.';
			});
			setText(saveStatus, 'Saved at ' + new Date().toLocaleTimeString() + '.' + said.join(''));
			saveStatus.classList.remove('dirty');
			loadStatus();
			return true;
		});
	}

	/* Secret fields: "set"/"not set", a replace input, and a clear box. */
	function buildSecretFields() {
		$$('[data-secret-field]').forEach(function (box) {
			var name = box.dataset.secretField;
			var label = $('label', box);
			var id = label.htmlFor;
			var row = el('div', {'class': 'secret-row'});
			var badge = el('span', {'class': 'badge', 'data-secret-state': name}, 'not set');
			var input = el('input', {
				id: id, type: 'password', autocomplete: 'new-password', spellcheck: 'false',
				'data-secret': name, 'class': 'mono'
			});
			var clearLabel = el('label', {'class': 'clear-label', hidden: ''});
			var clear = el('input', {type: 'checkbox', 'data-secret-clear': name});
			clearLabel.appendChild(clear);
			clearLabel.appendChild(document.createTextNode(' Clear the stored value'));
			row.appendChild(input);
			label.appendChild(document.createTextNode(' '));
			label.appendChild(badge);
			box.insertBefore(row, label.nextSibling);
			var help = $('.help', box);
			box.insertBefore(clearLabel, help ? help.nextSibling : null);
			box.appendChild(el('p', {'class': 'field-error', 'data-error-for': name, role: 'alert', hidden: ''}));
			clear.addEventListener('change', function () {
				input.disabled = clear.checked;
				if (clear.checked) input.value = '';
				updateDirty();
			});
		});
	}

	/* Every data-field input gets an error line and aria-describedby help + error. */
	var idSeq = 0;
	function wireFields() {
		$$('.field').forEach(function (box) {
			var input = $('input[data-field], textarea[data-field], select[data-field], input[data-secret]', box);
			if (!input) return;
			var name = input.dataset.field || input.dataset.secret;
			var err = $$('[data-error-for]', box).filter(function (e) { return e.dataset.errorFor === name; })[0];
			if (!err) {
				err = el('p', {'class': 'field-error', 'data-error-for': name, role: 'alert', hidden: ''});
				box.appendChild(err);
			}
			var ids = [];
			$$('.help', box).forEach(function (h) {
				if (!h.id) h.id = 'help-' + (++idSeq);
				ids.push(h.id);
			});
			if (!err.id) err.id = 'err-' + (++idSeq);
			ids.push(err.id);
			input.setAttribute('aria-describedby', ids.join(' '));
		});
		// Switches: their help sits beside them, not in a .field box.
		$$('.switch-row').forEach(function (row) {
			var input = $('input[data-field]', row);
			var help = $('.help', row);
			var err = el('p', {'class': 'field-error', 'data-error-for': input.dataset.field, role: 'alert', hidden: ''});
			err.id = 'err-' + (++idSeq);
			help.parentNode.appendChild(err);
			if (!help.id) help.id = 'help-' + (++idSeq);
			input.setAttribute('aria-describedby', help.id + ' ' + err.id);
		});
		['#new-key-kid', '#new-key-pem'].forEach(function (sel) {
			$(sel).setAttribute('aria-describedby', 'help-site-keys err-site-keys');
		});
	}

	function renderKeys() {
		var list = $('#site-keys');
		list.textContent = '';
		siteKeys.forEach(function (k, i) {
			var li = el('li', {'class': 'key-item'});
			var info = el('div', {'class': 'key-info'});
			info.appendChild(el('span', {'class': 'key-kid mono'}, k.kid));
			info.appendChild(el('span', {'class': 'key-bits'}, k.bits ? 'RSA, ' + k.bits + ' bits' : 'RSA'));
			li.appendChild(info);
			var remove = el('button', {type: 'button', 'class': 'button button-small button-quiet'}, 'Remove');
			remove.setAttribute('aria-label', 'Remove key ' + k.kid);
			remove.addEventListener('click', function () {
				siteKeys.splice(i, 1);
				keysChanged = true;
				renderKeys();
				renderAuthState();
				updateDirty();
				$('#new-key-kid').focus();
			});
			li.appendChild(remove);
			list.appendChild(li);
		});
		show($('#site-keys-empty'), siteKeys.length === 0);
	}

	function fill(cfg) {
		config = cfg;
		$$('[data-field]').forEach(function (input) {
			var v = getPath(cfg, input.dataset.field);
			if (input.type === 'checkbox') input.checked = !!v;
			else input.value = v == null ? '' : String(v);
		});
		$$('[data-secret]').forEach(function (input) {
			var name = input.dataset.secret;
			var isSet = !!getPath(cfg, name + '_set');
			var badge = $('[data-secret-state="' + name + '"]');
			setText(badge, isSet ? 'set' : 'not set');
			badge.classList.toggle('badge-set', isSet);
			input.value = '';
			input.disabled = false;
			input.placeholder = isSet ? 'Stored \u2014 type to replace it' : 'Paste the value';
			var clear = $('[data-secret-clear="' + name + '"]');
			clear.checked = false;
			show(clear.parentNode, isSet);
		});
		siteKeys = ((cfg.security && cfg.security.site_public_keys) || []).map(function (k) {
			return {kid: k.kid, pem: k.pem, bits: k.bits};
		});
		keysChanged = false;
		$('#new-key-kid').value = '';
		$('#new-key-pem').value = '';
		renderKeys();
		$('#service-key').value = cfg.service_public_key || '';
		var verified = cfg.zendesk && cfg.zendesk.account_verified_at;
		var v = $('#stat-verified');
		v.textContent = '';
		if (verified) v.appendChild(timeEl(verified));
		else setText(v, 'Not yet');
		renderAvatar(cfg.agent_avatar && cfg.agent_avatar.set);
		renderAppCredsState(!!cfg.app_credentials_set);
		renderWebhookUrl();
		renderAuthState();
		updateDirty();
	}

	/* Where Zendesk must send its webhook: deskbridge's public address once it is known. */
	function renderWebhookUrl() {
		var base = (config && config.deployment && config.deployment.public_url) || window.location.origin;
		setText($('#webhook-url'), base + '/api/zendesk/webhook');
	}

	/* "Authenticate anonymous user chat transfers" means something only with
	 * "Authenticate users" on; with it on and no site key, every visitor is refused. */
	function renderAuthState() {
		var on = $('#authenticate-users').checked;
		var anon = $('#allow-anonymous');
		anon.disabled = !on;
		show($('#anonymous-reason'), !on);
		var help = $('#anonymous-reason').id;
		var ids = (anon.getAttribute('aria-describedby') || '').split(' ').filter(function (id) {
			return id && id !== help;
		});
		if (!on) ids.push(help);
		anon.setAttribute('aria-describedby', ids.join(' '));
		show($('#auth-no-keys'), noSiteKeys());
	}

	function loadConfig() {
		return api('GET', '/api/setup/config').then(function (r) {
			var err = $('#load-error');
			if (!r.ok) {
				if (r.status !== 401) {
					setText(err, 'Could not load the configuration. ' + r.error.message);
					show(err, true);
				}
				return;
			}
			show(err, false);
			fill(r.data);
		});
	}

	function loadAll() {
		clearErrors();
		clearCredentials();
		setText($('#verify-result'), '');
		renderChecks(null);
		return loadConfig().then(loadStatus);
	}

	/* ---- Access account ---------------------------------------------------------------- */

	var CHECK_NAMES = {
		messaging_key: 'Messaging API key',
		support_token: 'API token',
		agent_workspace: 'Agent workspace in the switchboard',
		webhook_integration: 'deskbridge\u2019s webhook in the switchboard'
	};

	/* One line per check Zendesk was asked about; an older deskbridge sends none. */
	function renderChecks(checks, list) {
		list = list || $('#verify-checks');
		list.textContent = '';
		(Array.isArray(checks) ? checks : []).forEach(function (c) {
			if (!c || typeof c !== 'object') return;
			var ok = c.ok === true;
			var li = el('li', {'class': ok ? 'check-ok' : 'check-failed', 'data-check': String(c.name)});
			li.appendChild(el('span', {'class': 'check-mark', 'aria-hidden': 'true'}, ok ? '\u2713' : '\u2717'));
			var text = el('span', {'class': 'check-text'});
			text.appendChild(el('span', {'class': 'check-name'}, CHECK_NAMES[c.name] || String(c.name)));
			text.appendChild(el('span', {'class': 'sr-only'}, ok ? ' (passed)' : ' (failed)'));
			if (c.message) text.appendChild(el('span', {'class': 'check-message'}, String(c.message)));
			li.appendChild(text);
			list.appendChild(li);
		});
		show(list, list.children.length > 0);
	}

	function verify() {
		var out = $('#verify-result');
		var button = $('#verify');
		out.className = 'verify-result';
		setText(out, '');
		renderChecks(null);
		save().then(function (saved) {
			if (!saved) {
				out.classList.add('bad');
				setText(out, 'Fix the form first: nothing was checked.');
				return;
			}
			button.disabled = true;
			out.classList.add('pending');
			setText(out, 'Checking with Zendesk…');
			return api('POST', '/api/setup/zendesk/verify').then(function (r) {
				button.disabled = false;
				out.classList.remove('pending');
				if (r.ok && r.data && r.data.verified) {
					var n = Number(r.data.agents_online) || 0;
					out.classList.add('good');
					setText(out, 'Connected to Zendesk. ' + n + (n === 1 ? ' agent is' : ' agents are') +
						' online for messaging right now.');
					loadConfig();
				} else if (!r.ok) {
					out.classList.add('bad');
					setText(out, r.error.message);
				}
				var checks = r.ok ? r.data && r.data.checks : r.error.checks;
				renderChecks(checks);
				if (!r.ok) markFailedChecks(checks);
				loadStatus();
			});
		});
	}

	/* The fields each check depends on, in the order to look at them; a check failing with
	 * every one of them set points at its last. The agent workspace is Zendesk's own. */
	var CHECK_FIELDS = {
		messaging_key: ['zendesk.subdomain', 'zendesk.messaging.app_id', 'zendesk.messaging.key_id',
			'zendesk.messaging.key_secret'],
		support_token: ['zendesk.api_user', 'zendesk.api_token'],
		webhook_integration: ['zendesk.messaging.webhook_secret']
	};

	function isConfigured(name) {
		if (name === 'zendesk.subdomain' && getPath(config, 'zendesk.api_base')) return true;
		var v = getPath(config, name);
		return v === undefined ? !!getPath(config, name + '_set') : v !== null && v !== '';
	}

	/* Puts each failed check's message beside the field it concerns. */
	function markFailedChecks(checks) {
		var first = null;
		(Array.isArray(checks) ? checks : []).forEach(function (c) {
			if (!c || c.ok !== false || c.ran === false || !CHECK_FIELDS[c.name]) return;
			var fields = CHECK_FIELDS[c.name];
			var field = fields.filter(function (f) { return !isConfigured(f); })[0] || fields[fields.length - 1];
			var focus = showFieldError(field, String(c.message || ''));
			first = first || focus;
		});
		if (first) first.scrollIntoView({block: 'center'});
	}

	/* ---- service key ------------------------------------------------------------------- */

	function copyText(text, input, statusEl) {
		function done(ok) {
			setText(statusEl, ok ? 'Copied.' : 'Select the text and copy it with your keyboard.');
		}
		if (navigator.clipboard && window.isSecureContext) {
			navigator.clipboard.writeText(text).then(function () { done(true); }, function () { fallback(); });
		} else {
			fallback();
		}
		function fallback() {
			var ok = false;
			if (input) {
				input.focus();
				input.select();
				try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
			}
			done(ok);
		}
	}

	function rotateKey() {
		var status = $('#service-key-status');
		if (!window.confirm('Make a new deskbridge key pair? Sites must encrypt to the new public key; ' +
			'the old private key keeps decrypting for 24 hours.')) return;
		api('POST', '/api/setup/keys/rotate').then(function (r) {
			if (!r.ok) { setText(status, r.error.message); return; }
			if (r.data && r.data.service_public_key) {
				$('#service-key').value = r.data.service_public_key;
				if (config) config.service_public_key = r.data.service_public_key;
			}
			setText(status, 'New key made. Update your site within 24 hours.');
			loadStatus();
		});
	}

	/* ---- avatar ------------------------------------------------------------------------ */

	var AVATAR_MAX = 100 * 1024;
	var AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/gif'];

	function renderAvatar(isSet) {
		var img = $('#avatar-preview');
		if (isSet) {
			img.src = '/api/avatar?v=' + Date.now();
		} else {
			img.removeAttribute('src');
		}
		show(img, !!isSet);
		show($('#avatar-none'), !isSet);
		show($('#avatar-remove'), !!isSet);
	}

	function avatarError(message) {
		var e = $('#err-avatar');
		setText(e, message || '');
		show(e, !!message);
		var input = $('#avatar-file');
		if (message) input.setAttribute('aria-invalid', 'true');
		else input.removeAttribute('aria-invalid');
	}

	function uploadAvatar() {
		var input = $('#avatar-file');
		var file = input.files && input.files[0];
		var status = $('#avatar-status');
		avatarError('');
		setText(status, '');
		if (!file) return;
		if (file.size > AVATAR_MAX) {
			avatarError('The image is ' + Math.ceil(file.size / 1024) + ' KiB; the limit is 100 KiB.');
			input.value = '';
			return;
		}
		var type = AVATAR_TYPES.indexOf(file.type) >= 0 ? file.type : (file.type || 'application/octet-stream');
		setText(status, 'Uploading…');
		api('PUT', '/api/setup/avatar', undefined, {type: type, body: file}).then(function (r) {
			input.value = '';
			if (!r.ok) {
				setText(status, '');
				if (r.status !== 401) avatarError(r.error.message);
				return;
			}
			setText(status, 'Avatar saved.');
			if (config) config.agent_avatar = {set: true};
			renderAvatar(true);
			loadStatus();
		});
	}

	function removeAvatar() {
		var status = $('#avatar-status');
		avatarError('');
		api('DELETE', '/api/setup/avatar').then(function (r) {
			if (!r.ok) { avatarError(r.error.message); return; }
			setText(status, 'Avatar removed.');
			if (config) config.agent_avatar = {set: false};
			renderAvatar(false);
			$('#avatar-file').focus();
			loadStatus();
		});
	}

	/* ---- private app ------------------------------------------------------------------- */

	function renderAppCredsState(isSet) {
		setText($('#app-creds-state'), isSet
			? 'Credentials exist. Generating new ones stops the current ones from working until you paste the new ones into the app\'s settings in Zendesk.'
			: 'No credentials yet.');
		setText($('#app-creds-generate'), isSet ? 'Generate new credentials' : 'Generate credentials');
	}

	function clearCredentials() {
		var box = $('#app-creds-box');
		if (!box) return;
		$('#app-creds').value = '';
		show(box, false);
		setText($('#app-creds-status'), '');
	}

	/* The ZIP through fetch, so that a refusal shows as a message rather than downloading
	 * as a file; unsaved changes (deskbridge's public address) are saved first. */
	function downloadZip(ev) {
		ev.preventDefault();
		var status = $('#app-zip-status');
		var err = $('#err-app-zip');
		setText(status, '');
		show(err, false);
		save().then(function (saved) {
			if (!saved) {
				setText(status, 'Fix the form first: the app was not built.');
				return;
			}
			setText(status, 'Building the app…');
			return fetch('/api/setup/zendesk-app.zip', {credentials: 'same-origin', cache: 'no-store'}).then(function (res) {
				if (res.ok) {
					return res.blob().then(function (blob) {
						var url = URL.createObjectURL(blob);
						var a = el('a', {href: url, download: 'deskbridge-zendesk-app.zip', hidden: ''});
						document.body.appendChild(a);
						a.click();
						a.remove();
						setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
						setText(status, 'Downloaded. Install it in Zendesk as step 3 says.');
					});
				}
				return res.json().catch(function () { return null; }).then(function (data) {
					var e = data && data.error || {};
					var message = e.message || STATUS_TEXT[res.status] || ('The server answered with an error (HTTP ' + res.status + ').');
					setText(status, '');
					if (res.status === 401) { sessionEnded(); return; }
					if (e.code === 'not_configured') {
						var focus = showFieldError('deployment.public_url', message);
						if (focus) { focus.focus(); focus.scrollIntoView({block: 'center'}); }
						return;
					}
					setText(err, message);
					show(err, true);
				});
			}, function () {
				setText(status, '');
				setText(err, STATUS_TEXT[0]);
				show(err, true);
			});
		});
	}

	function generateCredentials() {
		var status = $('#app-creds-status');
		if (config && config.app_credentials_set && !window.confirm(
			'Generate new credentials? The current ones stop working at once.')) return;
		setText(status, '');
		api('POST', '/api/setup/app-credentials').then(function (r) {
			if (!r.ok) { if (r.status !== 401) setText(status, r.error.message); return; }
			var creds = r.data && r.data.app_credentials;
			$('#app-creds').value = creds || '';
			show($('#app-creds-box'), true);
			if (config) config.app_credentials_set = true;
			renderAppCredsState(true);
			setText(status, 'New credentials made. Copy them now.');
			$('#app-creds').focus();
			$('#app-creds').select();
			loadStatus();
		});
	}

	/* ---- status ------------------------------------------------------------------------ */

	var AUDIT_ACTIONS = {'config.update': 'Settings changed'};
	var AUDIT_FIELDS_SHOWN = 5;

	function num(v) { return typeof v === 'number' ? String(v) : '–'; }

	/* A time the status reports, or what its absence means; the row stays hidden when the
	 * server does not report it at all (an older deskbridge). */
	function renderLastTime(data, name, rowSel, ddSel, never) {
		var row = $(rowSel);
		var dd = $(ddSel);
		var known = Object.prototype.hasOwnProperty.call(data, name);
		show(row, known);
		dd.textContent = '';
		dd.classList.toggle('bad-text', known && !data[name] && never.bad);
		if (!known) return;
		if (data[name]) dd.appendChild(timeEl(data[name]));
		else setText(dd, never.text);
	}

	function loadStatus() {
		var errBox = $('#status-error');
		return Promise.all([api('GET', '/api/setup/status'), api('GET', '/api/setup/audit')]).then(function (rs) {
			var st = rs[0];
			var au = rs[1];
			var problems = [];
			if (st.ok && st.data) {
				var t = st.data.transfers || {};
				setText($('#stat-waiting'), num(t.waiting));
				setText($('#stat-active'), num(t.active));
				setText($('#stat-ended'), num(t.ended));
				setText($('#stat-undelivered'), num(st.data.undelivered_messages));
				var le = $('#stat-last-error');
				le.textContent = '';
				le.classList.toggle('bad-text', !!st.data.last_zendesk_error);
				if (st.data.last_zendesk_error) {
					le.appendChild(el('span', {}, st.data.last_zendesk_error.message));
					if (st.data.last_zendesk_error.at) {
						le.appendChild(document.createTextNode(' ('));
						le.appendChild(timeEl(st.data.last_zendesk_error.at));
						le.appendChild(document.createTextNode(')'));
					}
				} else {
					setText(le, 'None');
				}
				var failed = st.data.last_zendesk_error && st.data.last_zendesk_error.checks;
				renderChecks(failed, $('#stat-last-checks'));
				show($('#stat-last-checks-row'), $('#stat-last-checks').children.length > 0);
				renderLastTime(st.data, 'last_webhook_at', '#stat-webhook-row', '#stat-webhook', {bad: true,
					text: 'never \u2014 agent replies are not reaching deskbridge yet; check the webhook in Admin Center'});
				renderLastTime(st.data, 'last_handoff_at', '#stat-handoff-row', '#stat-handoff', {bad: false,
					text: 'never'});
				setText($('#stat-schema'), st.data.schema_version == null ? '–' : st.data.schema_version);
			} else if (st.status !== 401) {
				problems.push('The status could not be read. ' + st.error.message);
			}
			var list = $('#audit-list');
			if (au.ok && au.data) {
				list.textContent = '';
				var entries = (au.data.entries || []).slice(0, 6);
				entries.forEach(function (e) {
					var li = el('li');
					li.appendChild(timeEl(e.at));
					var what = el('span', {'class': 'audit-what'});
					what.appendChild(el('strong', {}, AUDIT_ACTIONS[e.action] || e.action || 'Change'));
					var fields = Array.isArray(e.fields) ? e.fields.map(String) : (e.fields ? [String(e.fields)] : []);
					if (fields.length) {
						var shown = fields.slice(0, AUDIT_FIELDS_SHOWN).join(', ');
						if (fields.length > AUDIT_FIELDS_SHOWN)
							shown += ' and ' + (fields.length - AUDIT_FIELDS_SHOWN) + ' more';
						what.appendChild(document.createTextNode(': ' + shown));
						what.title = fields.join(', ');
					}
					li.appendChild(what);
					if (e.actor) li.appendChild(el('span', {'class': 'audit-actor'}, e.actor));
					list.appendChild(li);
				});
				show($('#audit-empty'), entries.length === 0);
			} else if (au.status !== 401) {
				problems.push('The recent changes could not be read. ' + au.error.message);
			}
			setText(errBox, problems.join(' '));
			show(errBox, problems.length > 0);
		});
	}

	/* ---- start ------------------------------------------------------------------------- */

	function init() {
		loginView = $('#login-view');
		appView = $('#app-view');
		loginForm = $('#login-form');
		loginError = $('#login-error');
		passwordInput = $('#login-password');
		logoutButton = $('#logout');
		form = $('#config-form');
		saveStatus = $('#save-status');
		formError = $('#form-error');

		buildSecretFields();
		wireFields();
		setText($('#webhook-url'), window.location.origin + '/api/zendesk/webhook');

		loginForm.addEventListener('submit', onLogin);
		logoutButton.addEventListener('click', onLogout);
		form.addEventListener('submit', function (ev) { ev.preventDefault(); save(); });
		form.addEventListener('input', updateDirty);
		form.addEventListener('change', updateDirty);
		$('#verify').addEventListener('click', verify);
		$('#subdomain').addEventListener('change', function () {
			var input = $('#subdomain');
			input.value = normalizeSubdomain(input.value);
			updateDirty();
		});
		$('#authenticate-users').addEventListener('change', renderAuthState);
		$('#new-key-pem').addEventListener('input', renderAuthState);
		$('#app-zip').addEventListener('click', downloadZip);
		$('#copy-service-key').addEventListener('click', function () {
			copyText($('#service-key').value, $('#service-key'), $('#service-key-status'));
		});
		$('#rotate-key').addEventListener('click', rotateKey);
		$('#avatar-file').addEventListener('change', uploadAvatar);
		$('#avatar-remove').addEventListener('click', removeAvatar);
		$('#avatar-preview').addEventListener('error', function () {
			var img = $('#avatar-preview');
			if (img.getAttribute('src')) { show(img, false); show($('#avatar-none'), true); }
		});
		$('#app-creds-generate').addEventListener('click', generateCredentials);
		$('#app-creds-copy').addEventListener('click', function () {
			copyText($('#app-creds').value, $('#app-creds'), $('#app-creds-status'));
		});
		$('#status-refresh').addEventListener('click', loadStatus);
		window.addEventListener('beforeunload', function (ev) {
			if (config && buildPatch()) { ev.preventDefault(); ev.returnValue = ''; }
		});
		passwordInput.focus();
		restoreSession();
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
	else init();
}());
