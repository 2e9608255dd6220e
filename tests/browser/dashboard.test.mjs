// tests/browser/dashboard.test.mjs — the setup page's Status view (/setup/#status) in
// Debian's chromium, filled from a seeded day.
//
// Run by run_browser_tests.py. The day of history is written by
// tests/integration/dashboard_seed.py with sqlite3 into the database of the deskbridge
// the runner started (no test can wait 24 hours); the charts must show exactly what it
// seeded. Screenshots at desktop width and at 375 x 812 go to BROWSER_OUTPUT_DIR.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, bail, check, done, launchChromium, watchProblems } from '../tap.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.DESKBRIDGE_BASE_URL;
const PASSWORD = process.env.DESKBRIDGE_ADMIN_PASSWORD;
const DB = process.env.DESKBRIDGE_DB;
const OUT = process.env.BROWSER_OUTPUT_DIR || path.join(HERE, 'output');

if (!BASE || !PASSWORD || !DB)
	bail('DESKBRIDGE_BASE_URL, DESKBRIDGE_ADMIN_PASSWORD and DESKBRIDGE_DB are set', new Error('run me through run_browser_tests.py'));
mkdirSync(OUT, { recursive: true });

let seed;
try {
	seed = JSON.parse(execFileSync('python3', [path.join(HERE, '..', 'integration', 'dashboard_seed.py'), DB],
		{ encoding: 'utf8', timeout: 60000 }));
} catch (e) {
	bail('seed a day of history', e);
}

/* What the seed makes of each outcome: its total, and how many hours have some. */
const OUTCOMES = ['agent_joined', 'no_agent', 'idle', 'ended_before_agent', 'handoff_failed', 'waiting'];
const byHour = Object.values(seed.transfers_by_hours_back);
const want = Object.fromEntries(OUTCOMES.map((k) => [k, {
	total: byHour.reduce((sum, h) => sum + h[k], 0),
	hours: byHour.filter((h) => h[k] > 0).length,
}]));
const seededHour = Math.floor(seed.seeded_at / 3600) * 3600;
const hourIso = (back) => new Date((seededHour - back * 3600) * 1000).toISOString().replace('.000Z', 'Z');

let browser;
try {
	browser = await launchChromium();
} catch (e) {
	bail('launch chromium', e);
}
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(10000);
const problems = [];
watchProblems(page, problems);

const rects = (figure, series) => page.locator(`#${figure} rect.dash-bar[data-series="${series}"]`).count();
const legendTotal = (figure, series) =>
	page.locator(`#${figure} .dash-legend li[data-series="${series}"] .dash-total`).textContent();
const drawnWidth = () => page.locator('#dash-transfers svg').evaluate((s) => Number(s.getAttribute('viewBox').split(' ')[2]));

await check('the Status tab, after login, draws the seeded day', async () => {
	await page.goto(BASE + '/setup/#status');
	await page.fill('#login-password', PASSWORD);
	await page.press('#login-password', 'Enter');
	await page.locator('#dash-transfers svg').waitFor({ state: 'visible' });
	assert(await page.locator('#config-form').isHidden(), 'the form shows in the Status view');
	assert(await page.locator('[data-view="status"]').getAttribute('aria-current') === 'page', 'the Status tab is not current');
});

await check('one bar per hour and outcome, and the legend\'s totals, as seeded', async () => {
	for (const k of OUTCOMES) {
		assert(await rects('dash-transfers', k) === want[k].hours, `${k}: ${await rects('dash-transfers', k)} bars, seeded ${want[k].hours} hours`);
		assert(Number(await legendTotal('dash-transfers', k)) === want[k].total, `${k} legend: ${await legendTotal('dash-transfers', k)}, seeded ${want[k].total}`);
	}
	// The seed puts three joined chats and one unanswered an hour back.
	const title = await page.locator(`#dash-transfers rect[data-series="agent_joined"][data-hour="${hourIso(1)}"] title`).textContent();
	assert(/: 3 agent joined$/.test(title), 'bar title: ' + title);
	const desc = await page.locator('#dash-transfers svg > desc').textContent();
	assert(desc.startsWith(`${OUTCOMES.reduce((s, k) => s + want[k].total, 0)} transfers in the last 24 hours: `), 'summary: ' + desc);
	assert(await page.locator('#dash-transfers table tbody tr').count() === 24, 'the table has not 24 hours');
});

await check('the wait percentiles read as the seeded waits', async () => {
	const value = (p) => page.locator(`#dash-waits text.dash-value[data-series="${p}"]`).textContent();
	assert(await value('p50') === '50 s', 'p50: ' + await value('p50'));
	assert(await value('p90') === '1 min 30 s', 'p90: ' + await value('p90'));
	assert(await value('p99') === '10 min', 'p99: ' + await value('p99'));
	const desc = await page.locator('#dash-waits svg > desc').textContent();
	assert(desc.includes('(10 transfers an agent joined)'), 'summary: ' + desc);
});

await check('the backlog and the Zendesk errors per hour', async () => {
	const text = await page.locator('#dash-backlog .dash-backlog-text').textContent();
	assert(text.startsWith(`${seed.pending} deliveries wait; the oldest for 10 min`), 'backlog: ' + text);
	const failures = Object.values(seed.failures_by_hours_back);
	assert(await rects('dash-failures', 'failures') === failures.length, 'failure bars: ' + await rects('dash-failures', 'failures'));
	assert(Number(await legendTotal('dash-failures', 'failures')) === failures.reduce((a, b) => a + b, 0), 'failure total');
	const title = await page.locator(`#dash-failures rect[data-hour="${hourIso(3)}"] title`).textContent();
	assert(/: 5 failed deliveries$/.test(title), 'failure bar title: ' + title);
	await page.screenshot({ path: path.join(OUT, 'dashboard-desktop.png'), fullPage: true });
});

await check('on a 375 x 812 phone: redrawn to fit, labels legible, no horizontal scroll', async () => {
	await page.setViewportSize({ width: 375, height: 812 });
	await page.waitForFunction(() => {
		const s = document.querySelector('#dash-transfers svg');
		return s && Number(s.getAttribute('viewBox').split(' ')[2]) < 375;
	});
	const w = await drawnWidth();
	const shown = await page.locator('#dash-transfers svg').evaluate((s) => s.getBoundingClientRect().width);
	assert(Math.abs(shown - w) < 2, `drawn ${w} wide, shown ${shown}: labels would be scaled`);
	const scroll = await page.evaluate(() => document.scrollingElement.scrollWidth);
	assert(scroll <= 375, 'scrollWidth ' + scroll);
	const label = await page.locator('#dash-transfers text.dash-axis').first().evaluate((t) => t.getBoundingClientRect().height);
	assert(label >= 11, 'axis labels ' + label + ' px high');
	const labels = await page.locator('#dash-transfers text.dash-axis[text-anchor="middle"]').count();
	assert(labels >= 4 && labels <= 8, labels + ' hour labels at 375 px');
	await page.screenshot({ path: path.join(OUT, 'dashboard-phone.png'), fullPage: true });
});

await check('the Setup tab brings the form back; a reload keeps the view', async () => {
	await page.click('[data-view="setup"]');
	await page.locator('#config-form').waitFor({ state: 'visible' });
	assert(await page.locator('#dashboard').isHidden(), 'the charts show in the Setup view');
	await page.click('[data-view="status"]');
	await page.locator('#dashboard').waitFor({ state: 'visible' });
	await page.reload();
	await page.locator('#dash-transfers svg').waitFor({ state: 'visible' });
	assert(await page.locator('#config-form').isHidden(), 'the form shows after a reload of #status');
});

await check('no CSP violation or script error happened', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await browser.close();
done();
