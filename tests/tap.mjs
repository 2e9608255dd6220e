// tests/tap.mjs — what the Node test scripts share: TAP checks (one line per check; a
// failing check does not stop the ones after it), Debian's chromium through
// playwright-core (never a downloaded browser), and waiting for a condition.
import { createRequire } from 'node:module';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

let count = 0;
let failures = 0;

export async function check(name, fn) {
	count++;
	try {
		await fn();
		console.log(`ok ${count} - ${name}`);
	} catch (e) {
		failures++;
		console.log(`not ok ${count} - ${name}`);
		for (const line of String((e && e.stack) || e).split('\n').slice(0, 12))
			console.log('# ' + line);
	}
}

export function assert(cond, message) {
	if (!cond)
		throw new Error(message);
}

/* Prints the plan and exits: non-zero when a check failed. */
export function done() {
	console.log(`1..${count}`);
	process.exit(failures ? 1 : 0);
}

export function bail(name, err) {
	check(name, () => { throw err; });
	done();
}

export async function launchChromium() {
	// Through require, so that NODE_PATH finds the packages when the tests run from a copy
	// of the sources without node_modules (make distcheck); only browser tests need it.
	const { chromium } = createRequire(import.meta.url)('playwright-core');
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
}

/* Resolves with fn()'s first truthy value; rejects after ms with what it waited for. */
export async function waitUntil(what, fn, ms = 15000) {
	const deadline = Date.now() + ms;
	let last;
	for (;;) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what} (last: ${last && last.message ? last.message : JSON.stringify(last)})`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

/* Collects console errors and uncaught exceptions of a page (a CSP violation is a console error). */
export function watchProblems(page, problems) {
	page.on('console', (msg) => {
		if (msg.type() === 'error' && !/status of [45]\d\d|net::ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(msg.text()))
			problems.push('console: ' + msg.text());
	});
	page.on('pageerror', (err) => problems.push('page error: ' + err.message));
}
