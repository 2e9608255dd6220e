/* www/setup/dashboard.js — the setup page's Status view: the last 24 hours of
 * GET /api/setup/dashboard (docs/api.md) drawn as SVG.
 *
 * Plain script beside setup.js, under the same CSP (default-src 'self'): no inline
 * styles, so colours are classes of dashboard.css and every number reaches the page
 * through textContent or setAttribute. Each chart is drawn at the width it is shown at
 * (its viewBox is that many pixels wide), so its labels keep their size on a phone; it
 * is drawn again when that width changes. Every chart has a title and a summary for
 * screen readers, and its numbers are also in a table (visually hidden) or a legend. */
(function () {
	'use strict';

	var SVG = 'http://www.w3.org/2000/svg';
	var OUTCOMES = [
		['agent_joined', 'Agent joined'],
		['no_agent', 'No agent in time'],
		['idle', 'Ended idle'],
		['ended_before_agent', 'Ended before an agent joined'],
		['handoff_failed', 'Handoff failed'],
		['waiting', 'Still waiting']
	];
	var FAILURES = [['failures', 'Failed deliveries']];
	/* lib/outbox.c gives up on a delivery Zendesk has not taken after 15 minutes. */
	var GIVE_UP_S = 900;

	var data = null;
	var drawnWidth = 0;
	var uid = 0;

	function $(sel) { return document.querySelector(sel); }
	function el(tag, attrs, text) {
		var e = document.createElement(tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}
	function svg(tag, attrs, text) {
		var e = document.createElementNS(SVG, tag);
		Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}
	function count(v) { return typeof v === 'number' && isFinite(v) && v > 0 ? Math.floor(v) : 0; }
	function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

	function duration(s) {
		if (s < 60) return s + ' s';
		if (s < 3600) return Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
		return Math.floor(s / 3600) + ' h' + (Math.floor(s / 60) % 60 ? ' ' + Math.floor(s / 60) % 60 + ' min' : '');
	}
	function hourLabel(iso) {
		return new Date(iso).toLocaleTimeString([], {hour: 'numeric'});
	}
	function hourRange(iso) {
		var from = new Date(iso);
		var to = new Date(from.getTime() + 3600 * 1000);
		var opts = {hour: 'numeric', minute: '2-digit'};
		return from.toLocaleTimeString([], opts) + '\u2013' + to.toLocaleTimeString([], opts);
	}

	/* An <svg> of width w (pixels, as drawn) and height h, titled and summarised. */
	function chartSvg(w, h, title, desc) {
		var id = 'dash-' + (++uid);
		var root = svg('svg', {viewBox: '0 0 ' + w + ' ' + h, 'class': 'dash-svg', role: 'img',
			'aria-labelledby': id + '-t ' + id + '-d'});
		root.appendChild(svg('title', {id: id + '-t'}, title));
		root.appendChild(svg('desc', {id: id + '-d'}, desc));
		return root;
	}

	/* A step of the y axis that makes at most 4 lines: 1, 2 or 5 times a power of ten. */
	function niceStep(max) {
		var raw = Math.max(1, max / 4);
		var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
		var m = raw / p;
		return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
	}

	/* Stacked bars, one per hour; series [[key, label]], value(hour, key) its count. */
	function barChart(hours, series, value, w, title, desc) {
		var h = 190, left = 30, right = 6, top = 10, bottom = 26;
		var plotW = w - left - right, plotH = h - top - bottom;
		var slot = plotW / hours.length;
		var totals = hours.map(function (hr) {
			return series.reduce(function (sum, s) { return sum + value(hr, s[0]); }, 0);
		});
		var step = niceStep(Math.max.apply(null, totals.concat([1])));
		var max = Math.max(step, Math.ceil(Math.max.apply(null, totals.concat([1])) / step) * step);
		var every = [1, 2, 3, 4, 6, 12].filter(function (k) { return k * slot >= 44; })[0] || 12;
		var root = chartSvg(w, h, title, desc);
		var y = function (v) { return top + plotH - v / max * plotH; };

		for (var t = 0; t <= max; t += step) {
			root.appendChild(svg('line', {x1: left, x2: w - right, y1: y(t), y2: y(t), 'class': 'dash-grid'}));
			root.appendChild(svg('text', {x: left - 5, y: y(t) + 4, 'class': 'dash-axis', 'text-anchor': 'end'}, t));
		}
		hours.forEach(function (hr, i) {
			var x = left + i * slot + slot * 0.15;
			var base = 0;
			series.forEach(function (s) {
				var v = value(hr, s[0]);
				if (!v) return;
				var r = svg('rect', {x: x.toFixed(1), y: y(base + v).toFixed(1), width: (slot * 0.7).toFixed(1),
					height: (v / max * plotH).toFixed(1), 'class': 'dash-bar dash-s-' + s[0], 'data-series': s[0],
					'data-hour': hr.start});
				r.appendChild(svg('title', {}, hourRange(hr.start) + ': ' + v + ' ' + s[1].toLowerCase()));
				root.appendChild(r);
				base += v;
			});
			if ((hours.length - 1 - i) % every === 0)
				root.appendChild(svg('text', {x: (left + (i + 0.5) * slot).toFixed(1), y: h - 8,
					'class': 'dash-axis', 'text-anchor': 'middle'}, hourLabel(hr.start)));
		});
		root.appendChild(svg('line', {x1: left, x2: w - right, y1: y(0), y2: y(0), 'class': 'dash-baseline'}));
		return root;
	}

	/* The same numbers as a table, for screen readers and anyone who copies them; in a
	 * hidden box, since a table is as wide as its cells whatever its own width says. */
	function hoursTable(caption, hours, series, value) {
		var box = el('div', {'class': 'sr-only'});
		var table = box.appendChild(el('table'));
		table.appendChild(el('caption', {}, caption));
		var head = el('tr');
		head.appendChild(el('th', {scope: 'col'}, 'Hour'));
		series.forEach(function (s) { head.appendChild(el('th', {scope: 'col'}, s[1])); });
		table.appendChild(el('thead')).appendChild(head);
		var body = table.appendChild(el('tbody'));
		hours.forEach(function (hr) {
			var row = el('tr');
			row.appendChild(el('th', {scope: 'row'}, hourRange(hr.start)));
			series.forEach(function (s) { row.appendChild(el('td', {}, value(hr, s[0]))); });
			body.appendChild(row);
		});
		return box;
	}

	function legend(series, totals) {
		var list = el('ul', {'class': 'dash-legend'});
		series.forEach(function (s) {
			var li = el('li', {'data-series': s[0]});
			li.appendChild(el('span', {'class': 'dash-swatch dash-s-' + s[0], 'aria-hidden': 'true'}));
			li.appendChild(el('span', {}, s[1] + ': '));
			li.appendChild(el('strong', {'class': 'dash-total'}, totals[s[0]]));
			list.appendChild(li);
		});
		return list;
	}

	function section(title, note) {
		var fig = el('figure', {'class': 'dash-chart'});
		fig.appendChild(el('figcaption', {'class': 'dash-caption'}, title));
		if (note) fig.appendChild(el('p', {'class': 'help'}, note));
		return fig;
	}

	function transfersChart(hours, w) {
		var value = function (hr, k) { return count(hr.transfers && hr.transfers[k]); };
		var totals = {};
		OUTCOMES.forEach(function (s) {
			totals[s[0]] = hours.reduce(function (sum, hr) { return sum + value(hr, s[0]); }, 0);
		});
		var all = OUTCOMES.reduce(function (sum, s) { return sum + totals[s[0]]; }, 0);
		var desc = plural(all, 'transfer', 'transfers') + ' in the last 24 hours' + (all ? ': ' +
			OUTCOMES.filter(function (s) { return totals[s[0]]; }).map(function (s) {
				return totals[s[0]] + ' ' + s[1].toLowerCase();
			}).join(', ') : '') + '.';
		var fig = section('Transfers per hour, by how they turned out',
			'Each transfer is counted in the hour it was requested.');
		fig.setAttribute('id', 'dash-transfers');
		fig.appendChild(barChart(hours, OUTCOMES, value, w, 'Transfers per hour, last 24 hours', desc));
		fig.appendChild(legend(OUTCOMES, totals));
		fig.appendChild(hoursTable('Transfers per hour, by outcome', hours, OUTCOMES, value));
		return fig;
	}

	function failuresChart(hours, w) {
		var value = function (hr) { return count(hr.delivery_failures); };
		var total = hours.reduce(function (sum, hr) { return sum + value(hr); }, 0);
		var worst = hours.reduce(function (a, hr) { return value(hr) > value(a) ? hr : a; }, hours[0]);
		var desc = total ? plural(total, 'failed delivery', 'failed deliveries') + ' to Zendesk; the most, ' +
			value(worst) + ', between ' + hourRange(worst.start) + '.' : 'No delivery to Zendesk failed.';
		var fig = section('Zendesk errors per hour', 'Deliveries to Zendesk that failed, each attempt ' +
			'counted, whether retried or given up. The last one is under \u201cLast Zendesk error\u201d below.');
		fig.setAttribute('id', 'dash-failures');
		fig.appendChild(barChart(hours, FAILURES, value, w, 'Zendesk errors per hour, last 24 hours', desc));
		fig.appendChild(legend(FAILURES, {failures: total}));
		fig.appendChild(hoursTable('Failed deliveries per hour', hours, FAILURES, value));
		return fig;
	}

	function waitChart(wait, w) {
		var fig = section('Wait for an agent', 'From the request to the agent\u2019s first message, for the ' +
			'transfers of the last 24 hours that an agent joined.');
		fig.setAttribute('id', 'dash-waits');
		var joined = count(wait && wait.joined);
		if (!joined) {
			fig.appendChild(el('p', {'class': 'empty'}, 'No agent joined a transfer in the last 24 hours.'));
			return fig;
		}
		var rows = [['p50', 'Half waited at most'], ['p90', '90% waited at most'], ['p99', '99% waited at most']];
		var max = Math.max(1, count(wait.p99), count(wait.p90), count(wait.p50));
		var labelW = Math.min(150, Math.round(w * 0.42)), valueW = 80, rowH = 30;
		var desc = rows.map(function (r) { return r[1].toLowerCase() + ' ' + duration(count(wait[r[0]])); })
			.join('; ') + ' (' + plural(joined, 'transfer', 'transfers') + ' an agent joined).';
		var root = chartSvg(w, rows.length * rowH + 6, 'Wait for an agent, percentiles', desc.charAt(0).toUpperCase() + desc.slice(1));
		rows.forEach(function (r, i) {
			var v = count(wait[r[0]]);
			var y = 4 + i * rowH;
			var barW = Math.max(2, (w - labelW - valueW) * v / max);
			root.appendChild(svg('text', {x: 0, y: y + 17, 'class': 'dash-label'}, r[1]));
			var bar = svg('rect', {x: labelW, y: y + 4, width: barW.toFixed(1), height: 18, rx: 3,
				'class': 'dash-bar dash-s-wait', 'data-series': r[0]});
			bar.appendChild(svg('title', {}, r[0] + ': ' + duration(v)));
			root.appendChild(bar);
			root.appendChild(svg('text', {x: (labelW + barW + 6).toFixed(1), y: y + 17, 'class': 'dash-value',
				'data-series': r[0]}, duration(v)));
		});
		fig.appendChild(root);
		fig.appendChild(el('p', {'class': 'help'}, plural(joined, 'transfer', 'transfers') + ' an agent joined.'));
		return fig;
	}

	function backlogChart(outbox, w) {
		var fig = section('Waiting to reach Zendesk');
		fig.setAttribute('id', 'dash-backlog');
		var pending = count(outbox && outbox.pending);
		var age = count(outbox && outbox.oldest_pending_age_s);
		if (!pending) {
			fig.appendChild(el('p', {'class': 'empty dash-backlog-text'}, 'Nothing waits: every delivery has reached Zendesk.'));
			return fig;
		}
		var text = plural(pending, 'delivery waits', 'deliveries wait') + '; the oldest for ' + duration(age) +
			' (deskbridge gives up on one after ' + duration(GIVE_UP_S) + ').';
		var root = chartSvg(w, 44, 'Age of the oldest waiting delivery', text);
		var track = w - 2;
		var fill = Math.max(2, Math.min(1, age / GIVE_UP_S) * track);
		root.appendChild(svg('rect', {x: 1, y: 4, width: track, height: 16, rx: 3, 'class': 'dash-track'}));
		root.appendChild(svg('rect', {x: 1, y: 4, width: fill.toFixed(1), height: 16, rx: 3,
			'class': 'dash-bar dash-s-backlog' + (age >= GIVE_UP_S / 2 ? ' dash-late' : '')}));
		root.appendChild(svg('text', {x: 1, y: 38, 'class': 'dash-axis'}, '0'));
		root.appendChild(svg('text', {x: w - 1, y: 38, 'class': 'dash-axis', 'text-anchor': 'end'},
			duration(GIVE_UP_S) + ': given up'));
		fig.appendChild(el('p', {'class': 'dash-backlog-text'}, text));
		fig.appendChild(root);
		return fig;
	}

	function draw() {
		var box = $('#dashboard-charts');
		if (!data || !box || box.offsetParent === null) return;
		var w = Math.max(260, Math.floor(box.clientWidth));
		var hours = Array.isArray(data.hours) ? data.hours : [];
		drawnWidth = w;
		box.textContent = '';
		uid = 0;
		if (hours.length) box.appendChild(transfersChart(hours, w));
		box.appendChild(waitChart(data.wait_s, w));
		box.appendChild(backlogChart(data.outbox, w));
		if (hours.length) box.appendChild(failuresChart(hours, w));
	}

	function load() {
		var err = $('#dashboard-error');
		var stamp = $('#dashboard-updated');
		return fetch('/api/setup/dashboard', {credentials: 'same-origin', cache: 'no-store'}).then(function (res) {
			return res.json().catch(function () { return null; }).then(function (body) {
				if (!res.ok) {
					var e = body && body.error && body.error.message;
					throw new Error(res.status === 401 ? 'Your session has ended. Log in again to see the status.'
						: 'The status could not be read. ' + (e || 'The server answered HTTP ' + res.status + '.'));
				}
				data = body;
				err.hidden = true;
				stamp.textContent = 'Updated ' + new Date().toLocaleTimeString();
				draw();
			});
		}).catch(function (e) {
			err.textContent = e && e.message && !(e instanceof TypeError) ? e.message
				: 'Could not reach deskbridge. Check your connection and try again.';
			err.hidden = false;
		});
	}

	/* #status shows the Status view; anything else the setup form. */
	function showView() {
		var status = window.location.hash === '#status';
		document.querySelectorAll('[data-view]').forEach(function (a) {
			if ((a.getAttribute('data-view') === 'status') === status) a.setAttribute('aria-current', 'page');
			else a.removeAttribute('aria-current');
		});
		document.querySelectorAll('.setup-only').forEach(function (e) { e.hidden = status; });
		$('#dashboard').hidden = !status;
		if (status && !$('#app-view').hidden) load();
	}

	function init() {
		if (!$('#dashboard')) return;
		window.addEventListener('hashchange', showView);
		document.addEventListener('deskbridge:signed-in', showView);
		$('#dashboard-refresh').addEventListener('click', load);
		document.querySelectorAll('[data-view]').forEach(function (a) {
			a.addEventListener('click', function () {
				if (a.getAttribute('data-view') === 'status') window.setTimeout(function () { $('#dashboard-title').focus(); }, 0);
			});
		});
		if (window.ResizeObserver) {
			new window.ResizeObserver(function () {
				var box = $('#dashboard-charts');
				if (box && Math.floor(box.clientWidth) !== drawnWidth) draw();
			}).observe($('#dashboard-charts'));
		}
		showView();
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
	else init();
}());
