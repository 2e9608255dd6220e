// tests/browser/files.test.mjs — files both ways in the demo chat (/webchat/demo.html) in
// Debian's chromium, against the real deskbridge and the fake Zendesk (run by
// run_browser_tests.py): the visitor attaches files with an agent, the fake records the
// upload and the image message, refusals are shown on the file; the agent's file is a
// link and the agent's image an image (a link to itself where the page's CSP keeps
// Zendesk's host out). Saves a screenshot of the chat with the agent's image.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { assert, bail, check, done, launchChromium, waitUntil, watchProblems } from '../tap.mjs';
import { BASE, FAKE, agent, agentWorkspaceId, configure, conversation, conversations, json } from '../webchat/deskbridge-env.mjs';

const OUT = process.env.BROWSER_OUTPUT_DIR;

/* A real PNG of w x h pixels of one colour, as tests/integration/images.py makes it. */
function png(w, h, [r, g, b]) {
	const crcTable = Array.from({ length: 256 }, (_, n) => {
		let c = n;
		for (let k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		return c >>> 0;
	});
	const crc = (buf) => {
		let c = 0xffffffff;
		for (const x of buf)
			c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
		return (c ^ 0xffffffff) >>> 0;
	};
	const chunk = (kind, data) => {
		const len = Buffer.alloc(4), sum = Buffer.alloc(4);
		len.writeUInt32BE(data.length);
		sum.writeUInt32BE(crc(Buffer.concat([Buffer.from(kind), data])));
		return Buffer.concat([len, Buffer.from(kind), data, sum]);
	};
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr.set([8, 2, 0, 0, 0], 8);
	const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
	return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr),
		chunk('IDAT', zlib.deflateSync(Buffer.concat(Array.from({ length: h }, () => row)))), chunk('IEND', Buffer.alloc(0))]);
}

const items = (page, kind) => page.$$eval(`#messages .msg.${kind}`, (els) => els.map((e) => ({
	text: e.querySelector('.text').textContent, state: (e.querySelector('.state') || {}).textContent || null,
	failed: e.classList.contains('failed'),
	links: [...e.querySelectorAll('a.media-link')].map((a) => ({ href: a.href, text: a.textContent, target: a.target })),
	images: [...e.querySelectorAll('img.media')].map((i) => ({ src: i.src, alt: i.alt, loaded: i.complete && i.naturalWidth > 0 })),
})));
const attachments = async () => (await json('GET', FAKE + '/_fake/attachments')).body.attachments;

async function say(page, text) {
	await page.fill('#input', text);
	await page.press('#input', 'Enter');
}

/* A chat with Ana in a fresh tab of context; the fake's conversation id. */
async function chatWithAgent(context, seen) {
	const page = await context.newPage();
	page.setDefaultTimeout(15000);
	await page.goto(BASE + '/webchat/demo.html');
	await say(page, 'agent please');
	const workspace = await agentWorkspaceId();
	const conv = await waitUntil('a new conversation with the agent workspace',
		async () => (await conversations()).find((c) => c.control === workspace && !seen.has(c.id)));
	seen.add(conv.id);
	await agent(conv.id, 'says', { text: 'Hi, can you send me a photo of it?' });
	await page.locator('#attach').waitFor({ state: 'visible' });
	return { page, cid: conv.id };
}

async function attach(page, name, mimeType, buffer) {
	await page.setInputFiles('#file', { name, mimeType, buffer });
	return waitUntil(`the file ${name} settled`, async () =>
		(await items(page, 'user')).find((m) => m.text === 'File: ' + name && m.state !== 'Uploading…'));
}

if (!BASE || !FAKE)
	bail('DESKBRIDGE_BASE_URL and FAKE_ZENDESK_URL are set', new Error('run me through run_browser_tests.py'));
let browser;
try {
	await configure();
	browser = await launchChromium();
} catch (e) {
	bail('set up deskbridge and launch chromium', e);
}
mkdirSync(OUT, { recursive: true });
const seen = new Set();
const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
const { page, cid } = await chatWithAgent(context, seen);
const problems = [];
watchProblems(page, problems);
const fileRequests = [];
page.on('request', (r) => { if (r.url().endsWith('/files')) fileRequests.push(r.url()); });
const PHOTO = png(64, 48, [30, 120, 200]);

await check('with an agent, the visitor attaches a PNG: Zendesk gets the upload and an image message from the visitor', async () => {
	const sent = await attach(page, 'receipt.png', 'image/png', PHOTO);
	assert(sent.state === 'Sent' && !sent.failed, JSON.stringify(sent));
	const att = (await attachments()).find((a) => a.filename === 'receipt.png');
	assert(att && att.mediaType === 'image/png' && att.size === PHOTO.length && att.query.conversationId === cid,
		JSON.stringify(att));
	const conv = await conversation(cid);
	const msg = conv.messages.find((m) => m.content.type === 'image');
	assert(msg && msg.author.type === 'user' && msg.content.mediaUrl === att.mediaUrl && msg.content.altText === 'receipt.png',
		JSON.stringify(msg));
});

await check('a text file named .png is refused by deskbridge, which reads its content; the visitor is told on the file', async () => {
	const before = (await attachments()).length;
	const refused = await attach(page, 'holiday.png', 'image/png', Buffer.from('not a picture at all\n'));
	assert(refused.failed && refused.state === 'Only images (PNG, JPEG, GIF), PDF and text files can be sent.', JSON.stringify(refused));
	assert((await attachments()).length === before, 'an attachment reached Zendesk');
});

await check('a type deskbridge takes none of is refused in the page, without a request', async () => {
	const asked = fileRequests.length;
	const refused = await attach(page, 'setup.exe', 'application/x-msdownload', Buffer.from('MZ\x90\x00'));
	assert(refused.failed && /Only images/.test(refused.state), JSON.stringify(refused));
	assert(fileRequests.length === asked, 'the file was sent: ' + fileRequests.slice(asked));
});

await check("the agent's file is a link; the agent's image, whose host this page's CSP keeps out, a link to itself", async () => {
	await agent(cid, 'file', { alt_text: 'invoice.pdf', text: 'Here is your invoice' });
	await agent(cid, 'image', { alt_text: 'diagram.png' });
	const shown = await waitUntil('both media shown', async () => {
		const agentItems = await items(page, 'agent');
		return agentItems.length >= 3 && agentItems.slice(-2).every((m) => m.links.length === 1) && agentItems.slice(-2);
	});
	const conv = await conversation(cid);
	const [file, image] = conv.messages.slice(-2).map((m) => m.content.mediaUrl);
	assert(shown[0].text === 'Here is your invoice' && shown[0].links[0].href === file && shown[0].links[0].text === 'invoice.pdf'
		&& shown[0].links[0].target === '_blank', JSON.stringify(shown[0]));
	assert(shown[1].links[0].href === image && shown[1].links[0].text === 'diagram.png' && shown[1].images.length === 0,
		JSON.stringify(shown[1]));
});

await check('no script error happened (only the CSP refusing the agent image\'s host)', async () => {
	const others = problems.filter((p) => !/image 'https:\/\/acme\.zendesk\.com\/.*Content Security Policy/.test(p));
	assert(others.length === 0, others.join('\n'));
});

await check("where the page's policy lets Zendesk's media host in, the agent's image shows as an image", async () => {
	/* bypassCSP stands for a site whose CSP names Zendesk's media hosts in img-src; the
	 * route stands for Zendesk's CDN, which this machine cannot reach. */
	const open = await browser.newContext({ viewport: { width: 900, height: 900 }, bypassCSP: true });
	await open.route('https://acme.zendesk.com/**', (r) => r.fulfill({ status: 200, contentType: 'image/png', body: PHOTO }));
	const chat = await chatWithAgent(open, seen);
	await attach(chat.page, 'receipt.png', 'image/png', PHOTO);
	await agent(chat.cid, 'image', { alt_text: 'diagram.png', text: 'Is it this part?' });
	const shown = await waitUntil('the agent image loaded', async () => {
		const last = (await items(chat.page, 'agent')).at(-1);
		return last && last.images.length === 1 && last.images[0].loaded && last;
	});
	assert(shown.text === 'Is it this part?' && shown.images[0].alt === 'diagram.png', JSON.stringify(shown));
	await chat.page.screenshot({ path: path.join(OUT, 'files-agent-image.png') });
	await chat.page.click('#end');
	await open.close();
});

await page.click('#end');
await browser.close();
done();
