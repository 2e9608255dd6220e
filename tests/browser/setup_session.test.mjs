// tests/browser/setup_session.test.mjs — the admin session across reloads of /setup/ in
// Debian's chromium: a reload within the session shows the form again, its writes still
// carry the CSRF token, and once the session is gone a reload shows the login.
//
// Run by run_browser_tests.py, which starts the real deskbridge.
import { assert, bail, check, done, launchChromium, watchProblems } from '../tap.mjs';

const BASE = process.env.DESKBRIDGE_BASE_URL;
const PASSWORD = process.env.DESKBRIDGE_ADMIN_PASSWORD;

if (!BASE || !PASSWORD)
	bail('DESKBRIDGE_BASE_URL and DESKBRIDGE_ADMIN_PASSWORD are set', new Error('run me through run_browser_tests.py'));

let browser;
try {
	browser = await launchChromium();
} catch (e) {
	bail('launch chromium', e);
}
const context = await browser.newContext();
const page = await context.newPage();
page.setDefaultTimeout(10000);
const problems = [];
watchProblems(page, problems);

async function formShown() {
	await page.locator('#app-view').waitFor({ state: 'visible' });
	await page.waitForFunction(() => document.querySelector('#service-key').value.includes('BEGIN PUBLIC KEY'));
}

await check('log in', async () => {
	await page.goto(BASE + '/setup/');
	await page.fill('#login-password', PASSWORD);
	await page.press('#login-password', 'Enter');
	await formShown();
});

await check('after a reload the admin is still in the form, without logging in', async () => {
	await page.reload();
	await formShown();
	assert(await page.locator('#login-view').isHidden(), 'the login form is shown');
	assert(await page.locator('#logout').isVisible(), 'no log out button');
});

await check('a new tab of the same browser is in the session too', async () => {
	const other = await context.newPage();
	await other.goto(BASE + '/setup/');
	await other.locator('#app-view').waitFor({ state: 'visible' });
	await other.close();
});

await check('the reloaded page still writes: saving a change passes the CSRF check', async () => {
	await page.fill('#subdomain', 'after-reload');
	await page.click('#save');
	await page.waitForFunction(() => /^Saved at/.test(document.querySelector('#save-status').textContent));
	const c = await page.evaluate(() => fetch('/api/setup/config').then((r) => r.json()));
	assert(c.zendesk.subdomain === 'after-reload', 'subdomain: ' + c.zendesk.subdomain);
});

await check('after log out, a reload shows the login form', async () => {
	await page.click('#logout');
	await page.locator('#login-view').waitFor({ state: 'visible' });
	const restore = page.waitForResponse((r) => r.url().endsWith('/api/setup/session') && r.request().method() === 'GET');
	await page.reload();
	assert((await restore).status() === 401, 'the restore was not refused');
	await page.locator('#login-view').waitFor({ state: 'visible' });
	assert(await page.locator('#app-view').isHidden(), 'the form is shown without a session');
});

await check('no CSP violation or script error happened', async () => {
	assert(problems.length === 0, problems.join('\n'));
});

await browser.close();
done();
