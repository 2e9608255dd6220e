// tests/browser/files.test.mjs — files both ways in the demo chat (/webchat/demo.html) in
// Debian's chromium, against the real deskbridge and the fake Zendesk (run by
// run_browser_tests.py): the visitor attaches files with an agent, the fake records the
// upload and the image message, refusals are shown on the file; the agent's file is a
// link and the agent's image an image, which the demo's CSP lets in from Zendesk's media
// hosts and no others (an image that does not load is a link to itself). Saves a
// screenshot of the chat with the agent's image.
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
const PHOTO = png(64, 48, [30, 120, 200]);
const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
/* Zendesk's media host, which this machine cannot reach: the fake's attachments are on
 * acme.zendesk.com; one under /private/ stands for a file the visitor may not read. No
 * request leaves for any other host. */
await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (r) => {
	const url = new URL(r.request().url());
	if (url.hostname !== 'acme.zendesk.com')
		return r.abort();
	return url.pathname.includes('/private/') ? r.fulfill({ status: 403, contentType: 'text/plain', body: 'denied' })
		: r.fulfill({ status: 200, contentType: 'image/png', body: PHOTO });
});
const { page, cid } = await chatWithAgent(context, seen);
const problems = [];
watchProblems(page, problems);
const fileRequests = [];
page.on('request', (r) => { if (r.url().endsWith('/files')) fileRequests.push(r.url()); });

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

await check("the agent's file is a link; the agent's image, from Zendesk's media host, shows as the image", async () => {
	await agent(cid, 'file', { alt_text: 'invoice.pdf', text: 'Here is your invoice' });
	await agent(cid, 'image', { alt_text: 'diagram.png', text: 'Is it this part?' });
	const shown = await waitUntil('both media shown, the image loaded', async () => {
		const agentItems = (await items(page, 'agent')).slice(-2);
		return agentItems.length === 2 && agentItems[0].links.length === 1 && agentItems[1].images.length === 1
			&& agentItems[1].images[0].loaded && agentItems;
	});
	const conv = await conversation(cid);
	const [file, image] = conv.messages.slice(-2).map((m) => m.content.mediaUrl);
	assert(shown[0].text === 'Here is your invoice' && shown[0].links[0].href === file && shown[0].links[0].text === 'invoice.pdf'
		&& shown[0].links[0].target === '_blank', JSON.stringify(shown[0]));
	assert(shown[1].text === 'Is it this part?' && shown[1].images[0].src === image && shown[1].images[0].alt === 'diagram.png'
		&& shown[1].links.length === 0, JSON.stringify(shown[1]));
	await page.screenshot({ path: path.join(OUT, 'files-agent-image.png') });
});

await check("an agent's image that does not load (a private attachment) is a link to itself", async () => {
	const url = 'https://acme.zendesk.com/sc/attachments/v2/private/scan.png';
	await agent(cid, 'image', { alt_text: 'scan.png', media_url: url });
	const shown = await waitUntil('the image replaced by a link', async () => {
		const last = (await items(page, 'agent')).at(-1);
		return last && last.links.length === 1 && last;
	});
	assert(shown.links[0].href === url && shown.links[0].text === 'scan.png' && shown.links[0].target === '_blank'
		&& shown.images.length === 0, JSON.stringify(shown));
});

await check("the demo's CSP lets images in from Zendesk's media hosts only", async () => {
	const csp = (await context.request.get(BASE + '/webchat/demo.html')).headers()['content-security-policy'];
	assert(/(^|; )img-src 'self' https:\/\/\*\.zendesk\.com https:\/\/\*\.zdusercontent\.com https:\/\/smooch\.io https:\/\/\*\.smooch\.io(;|$)/.test(csp), csp);
	/* The browser applies it: an image from elsewhere is refused before any request. */
	const refused = await page.evaluate(() => new Promise((resolve) => {
		document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective + ' ' + e.blockedURI), { once: true });
		const img = document.createElement('img');
		img.src = 'https://images.example/x.png';
		document.body.append(img);
		setTimeout(() => resolve('not refused'), 5000);
	}));
	assert(refused === 'img-src https://images.example/x.png', refused);
});

await check('no script error happened (only the CSP refusing the probe image\'s host)', async () => {
	const others = problems.filter((p) => !/image 'https:\/\/images\.example\/x\.png'.*Content Security Policy/.test(p));
	assert(others.length === 0, others.join('\n'));
});

await page.click('#end');
await browser.close();
done();
