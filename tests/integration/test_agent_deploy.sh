#!/bin/bash
# End-to-end tests of `rollwave-agent` on a test host with real systemd as
# PID 1: signed releases of the sample app deployed, rolled back on their
# own when sick, recovered after SIGKILL at the dangerous points, and the
# bad-input matrix (tampered, replayed, expired, malicious artifacts).
#
#   tests/integration/test_agent_deploy.sh BUILD_DIR
#
# Each check asserts the exact outcome: exit status, the one-line reason,
# where `current` points, which version the service answers with.
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
RW="$BUILD_DIR/cli/rollwave"
AGENT="$BUILD_DIR/agent/rollwave-agent"
export BUILD_DIR

source "$SRC_DIR/tests/harness/testhost.sh"
source "$SRC_DIR/tests/harness/sample-host.sh"
th_install_traps

# Hosts see the machine's disk except /run, /tmp, /var/tmp, /srv, /etc/rollwave.
WORK=$(mktemp -d "$BUILD_DIR/rw-agent-test.XXXXXX")
http_pid=
trap '[ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null; th_teardown_all; rm -rf "$WORK"' EXIT
H=h1
passed=0
failed=0

source "$(dirname "$0")/../harness/checks.sh"
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

agent() { th_exec $H "$AGENT" --config /etc/rollwave/agent.conf "$@"; }
current() { th_exec $H readlink /srv/sample/current 2>/dev/null; }
served_version() { curl -s --max-time 3 "http://$(th_ip $H):8080/version"; }

# run_agent EXPECTED_STATUS EXPECTED_MESSAGE_REGEX ARGS...
run_agent() {
	local want=$1 pattern=$2 out st
	shift 2
	out=$(agent "$@" 2>&1)
	st=$?
	if [ "$st" -ne "$want" ]; then
		echo "  rollwave-agent $* exited $st, wanted $want; output:" >&2
		sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
	if ! grep -Eq -- "$pattern" <<<"$out"; then
		echo "  output of rollwave-agent $* lacks /$pattern/:" >&2
		sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
}

expect_current() { # expect_current VERSION
	local c
	c=$(current)
	[ "$c" = "releases/$1" ] || { echo "  current is '$c', wanted releases/$1" >&2; return 1; }
}

expect_eq() {
	[ "$1" = "$2" ] || { echo "  got '$1', wanted '$2'" >&2; return 1; }
}

jq_true() { # jq_true JSON FILTER
	jq -e "$2" <<<"$1" >/dev/null || { echo "  JSON fails $2:" >&2; echo "$1" >&2; return 1; }
}

grep_all() { # grep_all TEXT REGEX...
	local text=$1 re
	shift
	for re in "$@"; do
		grep -Eq -- "$re" <<<"$text" || { echo "  no /$re/ in:" >&2; echo "$text" >&2; return 1; }
	done
}

expect_served() {
	local v
	v=$(served_version)
	[ "$v" = "$1" ] || { echo "  service answers '$v', wanted '$1'" >&2; return 1; }
}

# ---- releases -------------------------------------------------------------
KEYS=$WORK/keys
mkdir -p "$KEYS" "$WORK/rel"
"$RW" release keygen -W -p "$KEYS/release.pub" -s "$KEYS/release.key" >/dev/null
"$RW" release keygen -W -p "$KEYS/other.pub" -s "$KEYS/other.key" >/dev/null

# release VERSION MODE [HOOK...]: tarball + manifest + signature in $WORK/rel
release() {
	local v=$1 mode=$2
	shift 2
	"$SRC_DIR/tests/sample-app/make-release.sh" "$WORK/rel" "$v" "$mode" "$@" >/dev/null
	"$RW" release create --app sample --version "$v" --artifact "$WORK/rel/sample-$v.tar.gz" \
		-s "$KEYS/release.key" --output "$WORK/rel/sample-$v.manifest" >/dev/null
}

cat >"$WORK/slow_before_activate" <<'HOOK'
#!/bin/sh
touch /run/rw-before-activate
sleep 60
HOOK
# The validate hooks hold the health check for 3 s per probe round (below
# ProbeTimeout=5s): the test must see /run/rw-validate and kill the deploy
# inside that window, also while parallel test runs load the machine (2 s
# were missed under ctest -j4).
cat >"$WORK/validate_slow_ok" <<'HOOK'
#!/bin/sh
touch /run/rw-validate
sleep 3
exit 0
HOOK
cat >"$WORK/validate_slow_bad" <<'HOOK'
#!/bin/sh
touch /run/rw-validate
sleep 3
exit 1
HOOK
cat >"$WORK/after_activate" <<'HOOK'
#!/bin/sh
echo "$ROLLWAVE_APP $ROLLWAVE_VERSION from $ROLLWAVE_PREVIOUS_VERSION in $ROLLWAVE_RELEASE_DIR" > /srv/after_activate.out
HOOK
chmod +x "$WORK"/slow_before_activate "$WORK"/validate_slow_* "$WORK"/after_activate

release 1.0.0 ok
release 2.0.0 ok "after_activate=$WORK/after_activate"
release 3.0.0 fail-on-start
release 4.0.0 unhealthy
release 5.0.0 ok "before_activate=$WORK/slow_before_activate"
release 6.0.0 ok "validate=$WORK/validate_slow_ok"
release 7.0.0 ok "validate=$WORK/validate_slow_bad"
release 8.0.0 ok
release 9.0.0 fail-on-start
chmod -R a+rX "$WORK"

# ---- the host -------------------------------------------------------------
th_boot $H || exit 1
sample_host_setup $H "$KEYS/release.pub" || exit 1
sample_app_conf $H SharedDirs=data

# ---- the happy path and local rollback -----------------------------------
check "first deploy goes live" run_agent 0 "sample 1.0.0 is live and healthy" \
	deploy sample --manifest "$WORK/rel/sample-1.0.0.manifest"
check "current points at 1.0.0" expect_current 1.0.0
check "service answers 1.0.0" expect_served 1.0.0
check "deploy over file:// URL goes live" run_agent 0 "sample 2.0.0 is live and healthy" \
	deploy sample --manifest "file://$WORK/rel/sample-2.0.0.manifest"
check "service answers 2.0.0" expect_served 2.0.0
check "after_activate ran with the release env" expect_eq \
	"$(th_exec $H cat /srv/after_activate.out)" "sample 2.0.0 from 1.0.0 in /srv/sample/releases/2.0.0"
check "shared dir is linked into the release" expect_eq \
	"$(th_exec $H readlink /srv/sample/releases/2.0.0/data)" "../../shared/data"
check "same version again is a no-op" run_agent 0 "already live" \
	deploy sample --manifest "$WORK/rel/sample-2.0.0.manifest"

check "a unit that fails to start is rolled back (exit 3)" \
	run_agent 3 "rolled back to 2.0.0: sample 3.0.0 was unhealthy" \
	deploy sample --manifest "$WORK/rel/sample-3.0.0.manifest"
check "current is back at 2.0.0" expect_current 2.0.0
check "service answers 2.0.0 after the rollback" expect_served 2.0.0
check "a release failing its health check is rolled back" \
	run_agent 3 "rolled back to 2.0.0: sample 4.0.0 was unhealthy: .*(500|not healthy)" \
	deploy sample --manifest "$WORK/rel/sample-4.0.0.manifest"
check "service answers 2.0.0 again" expect_served 2.0.0
st=$(agent status sample --json)
check "status --json: 2.0.0 live and healthy, previous 1.0.0" jq_true "$st" \
	'.apps[0].current == "2.0.0" and .apps[0].previous == "1.0.0" and .apps[0].health == "healthy"'
check "status --json: last operation rolled back locally" jq_true "$st" \
	'.apps[0].last_operation.result == "rolled_back_locally" and .apps[0].last_operation.to == "4.0.0"'
check "an older release still on disk is refused as an install" \
	run_agent 1 "older than 4.0.0.*use 'rollwave-agent rollback sample --to 1.0.0'" \
	deploy sample --manifest "$WORK/rel/sample-1.0.0.manifest"
check "rollback goes to the previous release" run_agent 0 "rolled back to 1.0.0" rollback sample
check "service answers 1.0.0" expect_served 1.0.0
check "rollback --to a release not on disk is refused" run_agent 1 "9.9.9 is not on disk" \
	rollback sample --to 9.9.9
check "rollback --to 2.0.0" run_agent 0 "rolled back to 2.0.0" rollback sample --to 2.0.0
rels=$(agent releases sample)
check "releases marks current and previous" grep_all "$rels" '^2\.0\.0 +current' '^1\.0\.0 +previous'

# ---- crash safety -----------------------------------------------------------
# wait_marker PATH: until a hook touched PATH in the host (20 s at most),
# seen from the machine through its PID 1's root: no nsenter per look, so
# the kill that follows lands well inside the hook's window under load.
wait_marker() {
	local root _
	root=/proc/$(th_pid $H)/root
	for _ in $(seq 400); do [ -e "$root$1" ] && return 0; sleep 0.05; done
	return 1
}
th_exec $H mkdir -p /srv/sample/releases/.staging-9.9.9/junk
agent deploy sample --manifest "$WORK/rel/sample-5.0.0.manifest" >/dev/null 2>&1 &
apid=$!
wait_marker /run/rw-before-activate
th_exec $H pkill -9 -f "rollwave-agent --config /etc/rollwave/agent.conf deploy" || true
th_exec $H pkill -9 -f before_activate || true
wait "$apid" 2>/dev/null # not plain wait: the host launchers are jobs too
check "killed between unpack and swap: current unchanged" expect_current 2.0.0
check "recovery abandons the interrupted deploy" run_agent 0 "abandoned before activation; 2.0.0 stays live" recover sample
check "recovery removed staging leftovers" expect_eq \
	"$(th_exec $H ls -A /srv/sample/releases | grep -c '^\.')" "0"
check "service still answers 2.0.0" expect_served 2.0.0

agent deploy sample --manifest "$WORK/rel/sample-6.0.0.manifest" >/dev/null 2>&1 &
apid=$!
wait_marker /run/rw-validate
th_exec $H pkill -9 -f "rollwave-agent --config /etc/rollwave/agent.conf deploy" || true
wait "$apid" 2>/dev/null # not plain wait: the host launchers are jobs too
check "killed between swap and health: current is the new release" expect_current 6.0.0
st=$(agent status sample --json)
check "status shows the interrupted deploy in flight" jq_true "$st" \
	'.apps[0].in_flight.op == "deploy" and .apps[0].in_flight.to == "6.0.0" and .apps[0].in_flight.phase == "checking"'
check "recovery re-checks a healthy activation and commits it" \
	run_agent 0 "re-checked: live and healthy" recover sample
check "service answers 6.0.0" expect_served 6.0.0
check "pruned to KeepReleases=3, keeping current 6.0.0 and previous 2.0.0" expect_eq \
	"$(th_exec $H ls /srv/sample/releases | sort -V | tr '\n' ' ')" "2.0.0 5.0.0 6.0.0 "

th_exec $H rm -f /run/rw-validate
agent deploy sample --manifest "$WORK/rel/sample-7.0.0.manifest" >/dev/null 2>&1 &
apid=$!
wait_marker /run/rw-validate
th_exec $H pkill -9 -f "rollwave-agent --config /etc/rollwave/agent.conf deploy" || true
wait "$apid" 2>/dev/null # not plain wait: the host launchers are jobs too
check "killed during the health check of a sick release: current is 7.0.0" expect_current 7.0.0
check "recovery rolls the sick activation back (exit 3)" \
	run_agent 3 "rolled back to 6.0.0" recover sample
check "service answers 6.0.0" expect_served 6.0.0
# ---- over HTTP ---------------------------------------------------------------
# A plain web server on the bridge address (the machine side, reachable only
# from the test hosts) serves the release directory.
HTTP_PORT=$(th_port 0)
python3 -m http.server --bind $TH_GATEWAY --directory "$WORK/rel" "$HTTP_PORT" >/dev/null 2>&1 &
http_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://$TH_GATEWAY:$HTTP_PORT/" && break; sleep 0.1; done
check "deploy over http:// goes live" run_agent 0 "sample 8.0.0 is live and healthy" \
	deploy sample --manifest "http://$TH_GATEWAY:$HTTP_PORT/sample-8.0.0.manifest"
check "service answers 8.0.0" expect_served 8.0.0
check "a missing manifest over http is a clear error" \
	run_agent 1 "cannot fetch manifest.*nope.manifest.*404" \
	deploy sample --manifest "http://$TH_GATEWAY:$HTTP_PORT/nope.manifest"
kill "$http_pid" 2>/dev/null
wait "$http_pid" 2>/dev/null

# Killed while swapping back from a sick release: recovery must finish the
# rollback (restart the units, verify), not take it for an abandoned deploy.
agent deploy sample --manifest "$WORK/rel/sample-9.0.0.manifest" >"$WORK/deploy9.log" 2>&1 &
apid=$!
for _ in $(seq 300); do grep -q "swapping back to 8.0.0" "$WORK/deploy9.log" && break; sleep 0.05; done
for _ in $(seq 100); do [ "$(current)" = releases/8.0.0 ] && break; sleep 0.02; done
th_exec $H pkill -9 -f "rollwave-agent --config /etc/rollwave/agent.conf deploy" || true
wait "$apid" 2>/dev/null
st=$(agent status sample --json)
check "killed while swapping back: the journal says rolling_back" jq_true "$st" \
	'.apps[0].in_flight.phase == "rolling_back" and .apps[0].in_flight.to == "9.0.0"'
check "recovery finishes the interrupted rollback (exit 3)" \
	run_agent 3 "rolled back to 8.0.0" recover sample
check "service answers 8.0.0" expect_served 8.0.0
st=$(agent status sample --json)
check "nothing left in flight" jq_true "$st" '.apps[0].in_flight == null and .apps[0].current == "8.0.0"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
