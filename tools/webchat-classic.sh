#!/bin/sh
# Writes the classic-script build of www/webchat/deskbridge-webchat.js to stdout: the
# module's code in a function scope, its exports as window.DeskbridgeWebChat. Generated,
# not hand-kept, so the two can never say different things (a test compares them).
#   tools/webchat-classic.sh www/webchat/deskbridge-webchat.js > www/webchat/deskbridge-webchat.classic.js
set -eu
src=${1:?usage: webchat-classic.sh deskbridge-webchat.js}
grep -q '^export { .* };$' "$src" || { echo "webchat-classic.sh: no single export line in $src" >&2; exit 1; }
printf '/* Generated from deskbridge-webchat.js by tools/webchat-classic.sh: edit that file, not this one. */\n'
printf '(function (global) {\n"use strict";\n'
sed 's/^export { \(.*\) };$/global.DeskbridgeWebChat = Object.freeze({ \1 });/' "$src"
printf '})(typeof window !== "undefined" ? window : globalThis);\n'
