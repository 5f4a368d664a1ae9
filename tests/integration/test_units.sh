#!/bin/bash
# Integration tests of agent/units and agent/health against a real systemd:
# one test host (tests/harness/testhost.sh, DESIGN.md's recipe: systemd as
# PID 1 in new PID, mount and network namespaces, private /run /tmp
# /var/tmp, machine-touching units masked), units written to its
# /run/systemd/system, driven by units_probe over the host's system bus.
#
#   tests/integration/test_units.sh BUILD_DIR      (as root)
#
# Prints one line per check (VERBOSE=1: with the error message each expected
# failure gave) and "N passed, M failed"; exits non-zero if any
# check failed. The host is always killed (kill -9 of its PID 1) and its
# namespaces removed on exit.
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
PROBE="$BUILD_DIR/tests/integration/units_probe"

[ "$(id -u)" = 0 ] || { echo "test_units: must run as root" >&2; exit 2; }
[ -x "$PROBE" ] || { echo "test_units: $PROBE not built (ninja units_probe)" >&2; exit 2; }

source "$SRC_DIR/tests/harness/testhost.sh"
own_run_dir=
if [ -z "${TH_RUN_DIR:-}" ]; then
	TH_RUN_DIR=$(mktemp -d /var/tmp/rwt-units.XXXXXX) || exit 1
	own_run_dir=$TH_RUN_DIR
fi
export TH_RUN_DIR
th_install_traps

H=units1
passed=0
failed=0
OUT=
ERR=
RC=

ok() { passed=$((passed + 1)); echo "ok   - $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $*"; }

# probe ARGS... — run units_probe inside the host; sets RC, OUT, ERR.
probe() {
	local o e
	o=$(mktemp) e=$(mktemp)
	th_exec $H env -u DBUS_SYSTEM_BUS_ADDRESS "$PROBE" "$@" >"$o" 2>"$e"
	RC=$?
	OUT=$(cat "$o") ERR=$(cat "$e")
	rm -f "$o" "$e"
}

# expect DESCRIPTION RC ERR_SUBSTRING — check the last probe's outcome.
expect() {
	local what=$1 rc=$2 needle=$3
	if [ "$RC" = "$rc" ] && [[ "$ERR" == *"$needle"* ]]; then
		ok "$what"
		[ -n "${VERBOSE:-}" ] && [ -n "$ERR" ] && echo "     stderr: $ERR"
	else
		not_ok "$what"
		echo "     expected rc $rc and stderr containing '$needle'" >&2
		echo "     got rc $RC, stdout '$OUT', stderr '$ERR'" >&2
	fi
}

# expect_re DESCRIPTION RC REGEX — like expect, with an extended regex.
expect_re() {
	local what=$1 rc=$2 re=$3
	if [ "$RC" = "$rc" ] && [[ "$ERR" =~ $re ]]; then
		ok "$what"
	else
		not_ok "$what"
		echo "     expected rc $rc and stderr matching '$re'" >&2
		echo "     got rc $RC, stdout '$OUT', stderr '$ERR'" >&2
	fi
}

# expect_state DESCRIPTION UNIT REGEX — "load active sub nrestarts" matches.
expect_state() {
	probe state "$2"
	if [ "$RC" = 0 ] && [[ "$OUT" =~ $3 ]]; then
		ok "$1"
	else
		not_ok "$1"
		echo "     expected state matching '$3', got rc $RC '$OUT' '$ERR'" >&2
	fi
}

unit() { # unit NAME — unit file text on stdin
	th_write $H "/run/systemd/system/$1"
}

# --- the host and its units --------------------------------------------------
th_boot $H || { echo "test_units: cannot boot the test host" >&2; exit 1; }
echo "# host $H: $(cat "$TH_RUN_DIR/hosts/$H/booted")"

unit good.service <<'EOF'
[Service]
ExecStart=/bin/sleep infinity
EOF
unit good2.service <<'EOF'
[Service]
Type=exec
ExecStart=/bin/sleep infinity
EOF
unit bad-exit.service <<'EOF'
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo failing on purpose; exit 1'
EOF
unit crashloop.service <<'EOF'
[Unit]
StartLimitIntervalSec=0
[Service]
ExecStart=/bin/sh -c 'sleep 0.3; exit 1'
Restart=always
RestartSec=200ms
EOF
unit burst.service <<'EOF'
[Unit]
StartLimitIntervalSec=60
StartLimitBurst=2
[Service]
ExecStart=/bin/false
Restart=always
RestartSec=50ms
EOF
unit slow.service <<'EOF'
[Service]
Type=oneshot
ExecStart=/bin/sleep 5
EOF
unit listener.service <<'EOF'
[Service]
ExecStart=/usr/bin/python3 -m http.server --bind 127.0.0.1 18080
EOF
th_exec $H ln -sf /dev/null /run/systemd/system/masked.service
th_systemctl $H daemon-reload || { echo "test_units: daemon-reload failed" >&2; exit 1; }

# --- restart ----------------------------------------------------------------
probe restart good.service
expect "restart of a good unit succeeds" 0 ""
expect_state "restarted unit is active/running with no restarts" good.service \
	'^loaded active running 0$'

pid_before=$(th_exec $H systemctl show -P MainPID good.service)
probe restart good.service good2.service
expect "restart of two units at once succeeds" 0 ""
pid_after=$(th_exec $H systemctl show -P MainPID good.service)
if [ -n "$pid_before" ] && [ "$pid_before" != 0 ] && [ "$pid_before" != "$pid_after" ]; then
	ok "restart really restarted the unit (MainPID $pid_before -> $pid_after)"
else
	not_ok "restart really restarted the unit (MainPID $pid_before -> $pid_after)"
fi

probe restart bad-exit.service
expect "restart of a unit whose ExecStart exits 1 fails with unit and result" 1 \
	"unit 'bad-exit.service' failed to restart: result 'failed' (EPROTO)"
expect_state "that unit is failed" bad-exit.service '^loaded failed failed '

probe restart good.service bad-exit.service
expect "a failing unit among good ones is named" 1 \
	"unit 'bad-exit.service' failed to restart: result 'failed'"

probe restart nope.service
expect "restart of a missing unit is a clear error" 1 "unit 'nope.service' not found (ENOENT)"

probe restart --timeout-ms 500 slow.service
expect "a job that outlasts the timeout fails in time" 1 \
	"timed out after 500ms waiting for unit 'slow.service' to restart (ETIMEDOUT)"
th_systemctl $H stop slow.service

probe restart 'bad name'
expect "an invalid unit name is refused before systemd sees it" 1 "invalid unit name 'bad name'"

# --- state and existence -------------------------------------------------------
probe state nope.service
expect "state of a missing unit is a clear error" 1 "unit 'nope.service' not found (ENOENT)"
probe exist good.service nope.service
expect "existence check names the missing unit" 1 "unit 'nope.service' not found"
probe exist good.service good2.service
expect "existence check passes for present units" 0 ""
probe exist masked.service
expect "a masked unit cannot be used" 1 "unit 'masked.service' cannot be loaded: masked"

# --- stop / start ------------------------------------------------------------
probe stop good2.service
expect "stop succeeds" 0 ""
expect_state "stopped unit is inactive/dead" good2.service '^loaded inactive dead '
probe start good2.service
expect "start succeeds" 0 ""
expect_state "started unit is active/running" good2.service '^loaded active running '

# --- health --------------------------------------------------------------------
probe health --min-healthy-ms 500 --deadline-ms 5000 good.service good2.service
expect "health passes for steady units" 0 ""
[[ "$OUT" =~ first_healthy_ms=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -lt 1000 ] &&
	ok "first healthy probe comes quickly ($OUT)" || not_ok "first healthy probe ($OUT)"

probe restart listener.service
expect "restart of a TCP listener succeeds" 0 ""
# The listener needs a moment to bind: health waits for it.
probe health --min-healthy-ms 500 --deadline-ms 10000 --tcp 127.0.0.1:18080 listener.service
expect "health with unit + TCP probe passes once the port listens" 0 ""

probe restart crashloop.service
expect "restart of a crashing Restart=always unit itself reports done" 0 ""
t0=$SECONDS
probe health --min-healthy-ms 3000 --deadline-ms 20000 crashloop.service
expect_re "a crash-looping unit is detected as restart-looping" 1 \
	"crashloop.service' (is restart-looping \(restarted [0-9]+ times|exited and systemd is restarting it)"
if [ $((SECONDS - t0)) -lt 10 ]; then
	ok "restart loop fails fast, not at the deadline ($((SECONDS - t0))s)"
else
	not_ok "restart loop fails fast, not at the deadline ($((SECONDS - t0))s)"
fi
[[ "$ERR" == *"(EPROTO)"* ]] && ok "restart loop is -EPROTO" || not_ok "restart loop is -EPROTO: $ERR"
th_systemctl $H stop crashloop.service

probe restart burst.service
# Let systemd use up the burst; health must then report the failed state.
for _ in $(seq 50); do
	th_systemctl $H is-failed --quiet burst.service && break
	sleep 0.2
done
probe health --min-healthy-ms 3000 --deadline-ms 20000 burst.service
expect "a unit that hit its start limit is reported failed" 1 "unit 'burst.service' has failed"

probe stop good2.service
probe health --min-healthy-ms 500 --deadline-ms 1500 good2.service
expect "a stopped unit is unhealthy until the deadline" 1 \
	"not healthy for 500ms within 1500ms: unit 'good2.service' is not running (inactive/dead) (ETIMEDOUT)"

probe health --min-healthy-ms 500 --deadline-ms 1500 nope.service
expect "health of a missing unit fails at once" 1 "unit 'nope.service' not found"

# --- the bus address is honoured ------------------------------------------------
RC=$(th_exec $H env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/nonexistent "$PROBE" state good.service \
	2>&1 >/dev/null)
[[ "$RC" == *"cannot connect to the system bus"* ]] &&
	ok "DBUS_SYSTEM_BUS_ADDRESS is honoured" || not_ok "DBUS_SYSTEM_BUS_ADDRESS is honoured: $RC"

echo "$passed passed, $failed failed"
th_teardown_all
if [ "$failed" = 0 ] && [ -n "$own_run_dir" ]; then
	rm -rf "$own_run_dir"
else
	echo "# host logs kept in $TH_RUN_DIR"
fi
[ "$failed" = 0 ]
