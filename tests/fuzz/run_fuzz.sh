#!/bin/sh
# tests/fuzz/run_fuzz.sh — runs every libFuzzer harness for a bounded time on its
# committed corpus (TAP: one line per harness). FUZZ_SECONDS sets the time (default 5).
# New inputs go to a temporary folder, so the committed corpus changes only by hand.
set -u
builddir=${DESKBRIDGE_BUILDDIR:-.}
srcdir=${DESKBRIDGE_SRCDIR:-.}
seconds=${FUZZ_SECONDS:-5}
harnesses="jws payload http webhook image bodies multipart"
echo "1..$(echo $harnesses | wc -w)"
n=0 failed=0
for h in $harnesses; do
	n=$((n + 1))
	work=$(mktemp -d)
	log="$work/log"
	if "$builddir/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$work" "$srcdir/tests/fuzz/corpus/$h" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok $n - fuzz_$h: ${runs:-?} inputs in ${seconds}s, no crash, leak or undefined behaviour"
	else
		echo "not ok $n - fuzz_$h found a problem:"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 20 | sed 's/^/# /'
		failed=1
	fi
	rm -rf "$work"
done
exit $failed
