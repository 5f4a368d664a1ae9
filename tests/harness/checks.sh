# checks.sh — what every integration test script prints and counts (bash
# library; source it near the top):
#
#   check "what it shows" COMMAND ARGS...   an "ok - ..." or "not ok - ..."
#                                           line (with the seconds since the
#                                           script started), counted in
#                                           $passed and $failed; returns the
#                                           verdict, so `check ... || echo "$out"`
#                                           shows what a failure printed
#   eq GOT WANTED                           equal, else says both on stderr
#   has TEXT REGEX                          grep -E match, else says so
#   wait_for SECONDS COMMAND ARGS...        COMMAND every $WAIT_STEP seconds
#                                           (default 0.2) until it succeeds;
#                                           the last try's status
#
# A script ends with: echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]
passed=${passed:-0}
failed=${failed:-0}
ok() { passed=$((passed + 1)); echo "ok - $* [${SECONDS}s]"; }
not_ok() {
	failed=$((failed + 1))
	echo "not ok - $* [${SECONDS}s]"
	return 1
}
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
eq() { [ "$1" = "$2" ] || { echo "  got '$1', wanted '$2'" >&2; return 1; }; }
has() { grep -Eq -- "$2" <<<"$1" || { echo "  no /$2/ in: $1" >&2; return 1; }; }
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		"$@" 2>/dev/null && return 0
		sleep "${WAIT_STEP:-0.2}"
	done
	"$@"
}
