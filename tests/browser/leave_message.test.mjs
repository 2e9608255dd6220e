// tests/browser/leave_message.test.mjs — leaving a message when nobody can chat, in the
// demo (/webchat/demo.html, through deskbridge-webchat.js) in Debian's chromium, against
// the real deskbridge and the fake Zendesk started by run_browser_tests.py: outside the
// admin's business hours (a schedule in a named time zone that leaves today out) the bot
// says the closed message and the demo shows the leave-a-message form; what the visitor
// writes becomes one Zendesk ticket whose comment is the message, then the conversation
// with the bot. With the offer turned off, no form. Screenshots in BROWSER_OUTPUT_DIR.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';
import { BASE, FAKE, configure, json, patchConfig } from '../webchat/deskbridge-env.mjs';

const OUT = process.env.BROWSER_OUTPUT_DIR;
const CLOSED = 'We are closed for today. Leave us a message and we will write back tomorrow.';
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
/* Two days from today in Tokyo: never today there, whatever the hour. */
const tokyoDay = new Date(Date.now() + 9 * 3600 * 1000).getUTCDay();
const NOT_TODAY = DAYS[(tokyoDay + 2) % 7] + ' 00:00-24:00';

if (!BASE || !FAKE)
	bail('DESKBRIDGE_BASE_URL and FAKE_ZENDESK_URL are set', new Error('run me through run_browser_tests.py'));
let browser;
try {
	await configure({ tickets: { offer_when_offline: true },
		hours: { time_zone: 'Asia/Tokyo', weekly: NOT_TODAY, closed_message: CLOSED },
		limits: { transfers_per_minute: 200 } });
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge and launch chromium', e);
}
mkdirSync(OUT, { recursive: true });
const context = await browser.newContext({ viewport: { width: 700, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const problems = [];
watchProblems(page, problems);

const bots = () => page.$$eval('#messages .msg.bot .text', (els) => els.map((e) => e.textContent));
async function botSays(pattern) {
	return waitUntil(`the bot saying ${pattern}`, async () => (await bots()).find((t) => pattern.test(t)));
}
async function freshPage() {
	await page.goto(BASE + '/webchat/demo.html');
	await page.evaluate(() => sessionStorage.clear());
	await page.reload();
	await page.locator('#messages .msg.bot').first().waitFor();
}
async function say(text) {
	await page.fill('#input', text);
	await page.press('#input', 'Enter');
}

await check('outside business hours the closed message and the form are shown, and the message becomes one Zendesk ticket', async () => {
	const a = (await json('GET', BASE + '/api/availability')).body;
	assert(a.reason === 'closed' && a.leave_message === true && a.message === CLOSED, JSON.stringify(a));
	await freshPage();
	await page.locator('#identity summary').click();
	await page.fill('#visitor-name', 'Lea Browser');
	await page.fill('#visitor-email', 'lea@shop.example');
	await say('I need a person please');
	await botSays(new RegExp('^' + CLOSED.replace(/\./g, '\\.') + '$'));
	await page.locator('#leave-message').waitFor({ state: 'visible' });
	await page.screenshot({ path: path.join(OUT, 'leave-message-form.png') });
	await page.fill('#leave-text', 'My parcel never arrived; please email me.');
	await page.click('#leave-send');
	const thanks = await botSays(/^Thanks! Your message is/);
	assert(/request #\d+/.test(thanks), 'not yet created in Zendesk: ' + thanks);
	assert(await page.isHidden('#leave-message'), 'the form is still shown');
	const tickets = (await json('GET', FAKE + '/_fake/tickets')).body.tickets;
	assert(tickets.length === 1, 'tickets: ' + JSON.stringify(tickets));
	const d = tickets[0].description;
	assert(d.startsWith('My parcel never arrived; please email me.\n\n'), 'the comment: ' + d);
	assert(d.includes('Visitor: I need a person please'), 'no transcript: ' + d);
	assert(thanks.includes('#' + tickets[0].id), thanks);
	await page.screenshot({ path: path.join(OUT, 'leave-message-sent.png') });
});

await check('with "Offer to leave a message" off, the closed message is shown and no form', async () => {
	await patchConfig({ tickets: { offer_when_offline: false } });
	await freshPage();
	await say('agent');
	await botSays(new RegExp('^' + CLOSED.replace(/\./g, '\\.') + '$'));
	assert(await page.isHidden('#leave-message'), 'the form is shown');
	await page.screenshot({ path: path.join(OUT, 'leave-message-off.png') });
});

await check('the page showed no error or warning of the browser', async () => {
	assert(!problems.length, problems.join('\n'));
});

await browser.close();
done();
