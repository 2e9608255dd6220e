// tests/webchat/types.test.mjs — deskbridge-webchat.js under tsc --strict (the typescript
// package, pinned in package-lock.json) against both hosts' service desk types: IBM Web
// Chat's (ibm-web-chat.d.ts beside this file says where IBM publishes them) and Carbon AI
// Chat's (@carbon/ai-chat's own .d.ts, pinned). The library names those types in its
// JSDoc, so every argument it passes to a host callback is checked against the host's
// declaration; hosts.check.ts checks the factories and the class as each host's
// ServiceDesk. Then the same program with the library broken on purpose, once per kind of
// mistake, must fail: a check that cannot fail checks nothing. Prints TAP.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, bail, check, done } from '../tap.mjs';

const SRCDIR = process.env.DESKBRIDGE_SRCDIR || path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG = path.join(SRCDIR, 'tests', 'webchat', 'tsconfig.json');
const LIBRARY = path.resolve(SRCDIR, 'www', 'webchat', 'deskbridge-webchat.js');

let ts;
try {
	// Through require, so that NODE_PATH finds it when the sources have no node_modules (make distcheck).
	ts = createRequire(import.meta.url)('typescript');
} catch (e) {
	bail('the typescript package is installed (npm ci)', e);
}

/* @carbon/ai-chat wherever NODE_PATH or the sources keep node_modules: tsc itself looks
 * only in the folders above the file that imports it. */
function carbonTypes() {
	const dirs = [...(process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean), path.join(SRCDIR, 'node_modules')];
	for (const dir of dirs) {
		const pkg = path.join(dir, '@carbon', 'ai-chat', 'package.json');
		if (existsSync(pkg))
			return { dir: path.dirname(pkg), version: JSON.parse(readFileSync(pkg, 'utf8')).version,
				types: path.join(path.dirname(pkg), JSON.parse(readFileSync(pkg, 'utf8')).types) };
	}
	throw new Error('@carbon/ai-chat is not installed (npm ci)');
}

function parsedConfig() {
	const parsed = ts.getParsedCommandLineOfConfigFile(CONFIG, {}, { ...ts.sys,
		onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
	parsed.options.paths = { ...parsed.options.paths, '@carbon/ai-chat': [carbonTypes().types] };
	return parsed;
}

const config = parsedConfig();
const parsedOnce = new Map();   // every other file is parsed once for all the programs
let previous;

/* The diagnostics of the whole program, with the library's text passed through edit. */
function diagnostics(edit = (text) => text) {
	const host = ts.createCompilerHost(config.options);
	const read = host.getSourceFile.bind(host);
	host.getSourceFile = (file, language, ...rest) => {
		if (path.resolve(file) === LIBRARY)
			return ts.createSourceFile(file, edit(readFileSync(LIBRARY, 'utf8')), language);
		if (!parsedOnce.has(file))
			parsedOnce.set(file, read(file, language, ...rest));
		return parsedOnce.get(file);
	};
	const program = ts.createProgram({ rootNames: config.fileNames, options: config.options, host, oldProgram: previous });
	previous = program;
	return ts.getPreEmitDiagnostics(program).map((d) => {
		const where = d.file ? path.relative(SRCDIR, d.file.fileName) + ':' +
			(d.file.getLineAndCharacterOfPosition(d.start).line + 1) + ' ' : '';
		return where + ts.flattenDiagnosticMessageText(d.messageText, ' ');
	});
}

/* Replaces one exact piece of the library, which must be there. */
const replacing = (from, to) => (text) => {
	assert(text.includes(from), 'the library no longer has: ' + from);
	return text.replace(from, to);
};

await check(`the library and both hosts' types agree under tsc --strict (typescript ${ts.version}, @carbon/ai-chat ${carbonTypes().version})`, async () => {
	const found = diagnostics();
	assert(found.length === 0, found.join('\n'));
});

const mistakes = [
	['a Carbon profile without user_type', replacing("Object.assign(baseProfile(agent, avatar), { user_type: /** @type {import('@carbon/ai-chat').UserType} */ ('human') })", 'baseProfile(agent, avatar)')],
	['a Carbon queue position under Web Chat\'s name', replacing('a.positionInQueue = ev.position;', 'a.position_in_queue = ev.position;')],
	['a Web Chat queue position under Carbon\'s name', replacing('a.position_in_queue = ev.position;', 'a.positionInQueue = ev.position;')],
	['agentTyping given a number', replacing("this.call('agentTyping', !!ev.typing);", "this.call('agentTyping', ev.typing ? 1 : 0);")],
	['sendMessageToUser without the agent\'s id', replacing("this.call('sendMessageToUser', String(ev.text), agentID);",
		"this.call('sendMessageToUser', String(ev.text));")],
	['setFileUploadStatus given a file instead of its id', replacing("this.call('setFileUploadStatus', upload.id);",
		"this.call('setFileUploadStatus', upload);")],
	['file capabilities without their types as one string', replacing('allowedFileUploadTypes: ACCEPTED_FILES });',
		'allowedFileUploadTypes: Object.keys(FILE_TYPES) });')],
	['a USER_MESSAGE error without its messageID', replacing("this.errorStatus({ type: ErrorType.USER_MESSAGE, messageID: cmid, logInfo: err });",
		'this.errorStatus({ type: ErrorType.USER_MESSAGE, logInfo: err });')],
	['an error type neither host has', replacing('USER_MESSAGE: 3 }', 'USER_MESSAGE: 4 }')],
	['reconnect() answering something other than a boolean', replacing('\t\t\treturn false;\n\t\tthis.t = stored;', '\t\t\treturn 0;\n\t\tthis.t = stored;')],
];
for (const [what, edit] of mistakes)
	await check(`tsc refuses ${what}`, async () => {
		assert(diagnostics(edit).length > 0, 'no diagnostic');
	});

done();
