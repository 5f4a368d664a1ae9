#!/bin/bash
# The agent's commands besides deploy and rollback, with real processes and
# no systemd.
#
# Part A runs `rollwave-agent worker` directly, with the arguments the
# daemon gives it, and reads the lines it writes for the daemon: PREFLIGHT
# (a first install passes with a warning and creates nothing; an unknown
# app, a missing key, a unit it cannot find, a manifest that is not there
# and a release too big for a small tmpfs are each listed), MIGRATE (the
# release is unpacked, not activated, its migrate hook runs with the hook
# environment and its output comes back; no hook: hook_absent; a failing
# hook fails with its last line), MIGRATE_DOWN, and cancels: during a
# before_activate hook (the hook is stopped, the release it unpacked
# removed), during a download that never ends (the worker execs its
# cleanup), and after activation (it runs to its end).
#
# Part B: the real coordinator over TLS and three real `rollwave-agent run`
# daemons. An all-at-once deployment where host 1 fails health fast, host
# 2 sits in a 60 s before_activate hook and host 3 is in a long health
# check: the coordinated rollback cancels host 2 (PHASE_CANCELLED, its
# release removed, `current` unchanged) and host 3, already activated,
# finishes and is rolled back by the coordinator.
#
#   tests/integration/test_agent_commands.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
D=$(mktemp -d "$BUILD_DIR/rw-agent-commands.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
HTTP_PORT=$(th_port 1)
cpid=
hpid=
spid=
declare -A apid=()
passed=0
failed=0
cleanup() {
	for p in "${apid[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
	[ -n "$hpid" ] && kill "$hpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	wait 2>/dev/null
	if [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$D"; else echo "# work files kept in $D"; fi
}
trap cleanup EXIT
source "$(dirname "$0")/../harness/checks.sh"
WAIT_STEP=0.1
# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.

# ---- releases of app web ----
"$RW_BIN" release keygen -W -p "$D/release.pub" -s "$D/release.key" >/dev/null || {
	echo "not ok - rollwave release keygen"
	exit 1
}
# tree VERSION: the tree of release VERSION of app $APP (default web).
tree() { if [ "${APP:-web}" = web ]; then echo "$D/tree-$1"; else echo "$D/tree-$APP-$1"; fi; }
# hook VERSION NAME BODY: an executable hook in the tree of VERSION.
hook() {
	local t
	t=$(tree "$1")
	mkdir -p "$t/.rollwave/hooks"
	printf '#!/bin/sh\n%s\n' "$3" >"$t/.rollwave/hooks/$2"
	chmod +x "$t/.rollwave/hooks/$2"
}
# release VERSION [--artifact-url URL]: $D/rel/$APP-VERSION.manifest.
release() {
	local v=$1 app=${APP:-web} t
	shift
	t=$(tree "$v")
	mkdir -p "$t" "$D/rel"
	echo "$v" >"$t/VERSION"
	tar --owner=0 --group=0 --numeric-owner -czf "$D/rel/$app-$v.tar.gz" -C "$t" . &&
		"$RW_BIN" release create --app "$app" --version "$v" --artifact "$D/rel/$app-$v.tar.gz" \
			-s "$D/release.key" --output "$D/rel/$app-$v.manifest" "$@" >/dev/null
}
manifest() { echo "file://$D/rel/web-$1.manifest"; }
ENV='echo "app=$ROLLWAVE_APP version=$ROLLWAVE_VERSION previous=$ROLLWAVE_PREVIOUS_VERSION dir=$ROLLWAVE_RELEASE_DIR cwd=$(pwd)"'
hook 2.0.0 migrate "echo migrating; $ENV"
hook 10.0.0 migrate "touch '$D/mig10.hook'"
hook 2.0.0 migrate_down "echo migrating down; $ENV"
hook 4.0.0 migrate 'echo checking the schema; echo table users is locked >&2; exit 3'
hook 5.0.0 before_activate "touch '$D/ba5-started'; sleep 30"
mkdir -p "$D/tree-9.0.0" && head -c 16M /dev/urandom >"$D/tree-9.0.0/blob"
# Part B: host 2 sits in its before_activate hook, host 1 is sick (BAD).
hook 7.0.0 before_activate "case \"\$ROLLWAVE_RELEASE_DIR\" in */agent2/*) touch '$D/ba7-started'; sleep 60;; esac"
mkdir -p "$D/tree-7.0.0" && touch "$D/tree-7.0.0/BAD"
for v in 1.0.0 2.0.0 3.0.0 4.0.0 5.0.0 7.0.0 8.0.0 9.0.0 10.0.0; do
	release $v || { echo "not ok - release $v"; exit 1; }
done
release 6.0.0 --artifact-url "http://127.0.0.1:$HTTP_PORT/web-6.0.0.tar.gz" || {
	echo "not ok - release 6.0.0"
	exit 1
}

# ---- part A: the worker, as the daemon runs it ----
A=$D/a
mkdir -p "$A/apps"
cat >"$A/agent.conf" <<EOF
[Agent]
StateDirectory=$A/state
AppsDirectory=$A/apps
TrustedKeys=$D/release.pub
EOF
cat >"$A/apps/web.conf" <<EOF
[App]
Name=web
Root=$A/srv/web

[Health]
Exec=/bin/true
MinHealthy=0
Interval=100ms
EOF
# worker OUT ARGS...: runs one worker with this shell as its daemon.
worker() {
	local out=$1
	shift
	"$AGENT" --config "$A/agent.conf" worker --parent=$$ "$@" >"$out" 2>>"$D/worker.err"
}
result() { grep '^result ' "$1"; }
hook_output() { grep '^output ' "$1" | cut -d' ' -f2 | tr -d '\n' | xxd -r -p; }
current() { readlink "$A/srv/web/current"; }

worker "$D/pf1" --manifest="$(manifest 2.0.0)" --version=2.0.0 -- preflight web
check "preflight of a first install passes (COMMITTED)" has "$(result "$D/pf1")" "^result 7 2.0.0 preflight passed"
check "... with a warning that there is nothing to roll back to" has "$(result "$D/pf1")" "warning: first install of web: no release on disk to roll back to"
check "... in phase CHECKING" eq "$(grep '^phase' "$D/pf1")" "phase 11 checking 2.0.0"
check "... and changes nothing (no app root made)" test ! -e "$A/srv"

"$AGENT" --config "$A/agent.conf" deploy web --manifest "$(manifest 1.0.0)" >/dev/null 2>&1
check "web 1.0.0 deployed standalone" eq "$(current)" "releases/1.0.0"
worker "$D/pf2" --manifest="$(manifest 2.0.0)" --version=2.0.0 -- preflight web
check "preflight over 1.0.0 passes without warnings" eq "$(result "$D/pf2")" "result 7 2.0.0 preflight passed"
worker "$D/pf3" --manifest="$(manifest 2.0.0)" --version=2.0.0 -- preflight nosuch
check "preflight of an app this host does not have fails on 'app'" has "$(result "$D/pf3")" "^result 9 2.0.0 preflight failed: app: .*nosuch"

# Everything wrong at once: no key, a unit nobody has, no manifest.
mkdir -p "$D/b/apps"
printf '[Agent]\nStateDirectory=%s/b/state\nAppsDirectory=%s/b/apps\nTrustedKeys=%s/nosuch.pub\n' "$D" "$D" "$D" >"$D/b/agent.conf"
printf '[App]\nName=web\nRoot=%s/b/srv/web\nUnits=rollwave-nosuch.service\n' "$D" >"$D/b/apps/web.conf"
"$AGENT" --config "$D/b/agent.conf" worker --parent=$$ --manifest="file://$D/nosuch.manifest" --version=2.0.0 \
	-- preflight web >"$D/pf4" 2>>"$D/worker.err"
pf4=$(result "$D/pf4")
check "preflight lists every failed check: the key" has "$pf4" "^result 9 2.0.0 preflight failed: .*key: trusted key $D/nosuch.pub"
check "... the units" has "$pf4" "units: "
check "... the manifest" has "$pf4" "manifest: cannot be verified without a trusted key"

# A release too big for the filesystem of the app root (a 64 MiB tmpfs).
mkdir -p "$D/small" "$D/c/apps"
printf '[Agent]\nStateDirectory=%s/c/state\nAppsDirectory=%s/c/apps\nTrustedKeys=%s/release.pub\n' "$D" "$D" "$D" >"$D/small.conf"
printf '[App]\nName=web\nRoot=%s/small\n' "$D" >"$D/c/apps/web.conf"
for v in 9.0.0 1.0.0; do
	unshare -m sh -c 'mount -t tmpfs -o size=64m tmpfs "$1" && shift && exec "$@"' sh "$D/small" \
		"$AGENT" --config "$D/small.conf" worker --parent=$$ --manifest="$(manifest $v)" --version=$v \
		-- preflight web >"$D/pf-$v" 2>>"$D/worker.err"
done
check "preflight of a 16 MiB release on a 64 MiB filesystem fails on 'space'" \
	has "$(result "$D/pf-9.0.0")" "^result 9 9.0.0 preflight failed: space: $D/small has [0-9]+ MiB available, the release needs [0-9]+ MiB \(3 x its [0-9]+ bytes \+ 32 MiB\)"
check "... a small one fits" has "$(result "$D/pf-1.0.0")" "^result 7 1.0.0 preflight passed"

# MIGRATE
# (A cancel fd that is /dev/null, always readable, asks nothing.)
worker "$D/mig2" --cancel-fd=0 --manifest="$(manifest 2.0.0)" --version=2.0.0 -- migrate web </dev/null
check "migrate 2.0.0: COMMITTED" has "$(result "$D/mig2")" "^result 7 2.0.0 migrate hook of web 2.0.0 succeeded"
check "... through FETCHING, VERIFYING, UNPACKING, MIGRATING" \
	eq "$(grep '^phase' "$D/mig2" | cut -d' ' -f2 | paste -sd,)" "1,2,1,2,3,10"
check "... the release is unpacked" test -f "$A/srv/web/releases/2.0.0/VERSION"
check "... and not activated" eq "$(current)" "releases/1.0.0"
out=$(hook_output "$D/mig2")
check "... the hook's output comes back with a header" has "$out" "^== hook 'migrate' of 2.0.0 exited with status 0 =="
check "... with the hook environment" has "$out" "app=web version=2.0.0 previous=1.0.0 dir=$A/srv/web/releases/2.0.0 cwd=$A/srv/web/releases/2.0.0"
check "... and no hook_absent" eq "$(grep -c '^absent' "$D/mig2")" 0
worker "$D/pf6" --manifest="$(manifest 2.0.0)" --version=2.0.0 -- preflight web
check "... a preflight of 2.0.0 now skips the space check (on disk)" eq "$(result "$D/pf6")" "result 7 2.0.0 preflight passed"

worker "$D/mig3" --manifest="$(manifest 3.0.0)" --version=3.0.0 -- migrate web
check "migrate of a release without a migrate hook: COMMITTED" has "$(result "$D/mig3")" "^result 7 3.0.0 web 3.0.0 has no migrate hook"
check "... with hook_absent" eq "$(grep -c '^absent$' "$D/mig3")" 1
worker "$D/mig4" --manifest="$(manifest 4.0.0)" --version=4.0.0 -- migrate web
check "a failing migrate hook: FAILED with its status and last line" \
	has "$(result "$D/mig4")" "^result 9 4.0.0 hook 'migrate' exited with status 3: table users is locked; 1.0.0 stays live"
check "... and its whole output in the report" has "$(hook_output "$D/mig4")" "checking the schema"
worker "$D/mig5" --manifest="$(manifest 2.0.0)" --version=3.0.0 -- migrate web
check "migrate with a manifest for another version fails" has "$(result "$D/mig5")" "^result 9 .* but 3.0.0 was asked for"

# MIGRATE_DOWN
worker "$D/md2" --version=2.0.0 -- migrate_down web
check "migrate_down 2.0.0: COMMITTED" has "$(result "$D/md2")" "^result 7 2.0.0 migrate_down hook of web 2.0.0 succeeded"
check "... in phase MIGRATING" eq "$(grep '^phase' "$D/md2")" "phase 10 migrating 2.0.0"
check "... its environment: previous is the live release" \
	has "$(hook_output "$D/md2" | tr '\n' ' ')" "migrating down app=web version=2.0.0 previous=1.0.0"
worker "$D/md3" --version=3.0.0 -- migrate_down web
check "migrate_down without the hook: COMMITTED with hook_absent" \
	eq "$(result "$D/md3" | cut -d' ' -f2)/$(grep -c '^absent$' "$D/md3")" "7/1"
worker "$D/md9" --version=9.9.9 -- migrate_down web
check "migrate_down of a release not on disk fails" has "$(result "$D/md9")" "^result 9 9.9.9 web 9.9.9 is not on disk"

# A cancel waiting before the work starts: preflight and migrate stop at
# their first safe point.
printf c >"$D/cancel-early"
worker "$D/pf7" --cancel-fd=0 --manifest="$(manifest 2.0.0)" --version=2.0.0 -- preflight web <"$D/cancel-early"
check "a cancelled preflight: CANCELLED, nothing changed" \
	eq "$(result "$D/pf7")" "result 12 2.0.0 preflight of web 2.0.0 cancelled; nothing was changed"
mkfifo "$D/cancel10"
exec 7<>"$D/cancel10"
printf c >&7
worker "$D/mig10" --cancel-fd=0 --manifest="$(manifest 10.0.0)" --version=10.0.0 -- migrate web <&7
exec 7>&-
check "a cancelled migrate: CANCELLED before it unpacked anything" \
	eq "$(result "$D/mig10")" "result 12 10.0.0 migrate of web 10.0.0 cancelled before activation; 1.0.0 stays live"
check "... no releases/10.0.0, no hook run" test ! -e "$A/srv/web/releases/10.0.0" -a ! -e "$D/mig10.hook"

# CANCEL during a before_activate hook (a safe point that waits).
mkfifo "$D/cancel5"
exec 7<>"$D/cancel5"
t0=$SECONDS
"$AGENT" --config "$A/agent.conf" worker --parent=$$ --cancel-fd=0 --manifest="$(manifest 5.0.0)" \
	--version=5.0.0 -- deploy web <&7 >"$D/dep5" 2>>"$D/worker.err" &
wpid=$!
check "deploy 5.0.0 reaches its before_activate hook" wait_for 20 test -e "$D/ba5-started"
echo c >&7
kill -USR1 "$wpid"
wait "$wpid"
check "... a cancel stops it (exit 0, within $((SECONDS - t0)) s, not the hook's 30)" test $? -eq 0 -a $((SECONDS - t0)) -lt 20
exec 7>&-
check "... final result CANCELLED" has "$(result "$D/dep5")" "^result 12 5.0.0 deploy of web 5.0.0 cancelled before activation; removed releases/5.0.0 it had unpacked; 1.0.0 stays live"
check "... the hook was stopped, and said so" has "$(hook_output "$D/dep5")" "hook 'before_activate' of 5.0.0 was stopped \(cancelled\)"
check "... releases/5.0.0 is gone" test ! -e "$A/srv/web/releases/5.0.0"
check "... current is unchanged" eq "$(current)" "releases/1.0.0"
check "... nothing is left in flight" eq "$(sqlite3 "$A/state/state.db" 'SELECT count(*) FROM inflight')" 0
check "... the history says cancelled" eq "$(sqlite3 "$A/state/state.db" "SELECT result FROM history WHERE to_version = '5.0.0'")" cancelled
check "... a release already on disk stays: 2.0.0" test -d "$A/srv/web/releases/2.0.0"

# CANCEL during a download that never ends (an abortable step: the worker
# execs its cleanup in the same process).
cat >"$D/stall.py" <<'EOF'
import socket, sys, threading, time
def stall(c):
    c.recv(4096)
    open(sys.argv[2], "w").close()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + b"\x1f\x8b" + b"\0" * 62)
    time.sleep(120)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
open(sys.argv[3], "w").close()
while True:
    c, _ = s.accept()
    threading.Thread(target=stall, args=(c,), daemon=True).start()
EOF
python3 "$D/stall.py" "$HTTP_PORT" "$D/stall-connected" "$D/stall-ready" &
hpid=$!
check "a server that stalls listens" wait_for 10 test -e "$D/stall-ready"
mkfifo "$D/cancel6"
exec 7<>"$D/cancel6"
t0=$SECONDS
"$AGENT" --config "$A/agent.conf" worker --parent=$$ --cancel-fd=0 --manifest="$(manifest 6.0.0)" \
	--version=6.0.0 -- deploy web <&7 >"$D/dep6" 2>>"$D/worker.err" &
wpid=$!
check "deploy 6.0.0 is downloading from a server that stalls" wait_for 20 test -e "$D/stall-connected"
check "... with its download file in releases/" wait_for 5 test -e "$A/srv/web/releases/.download-6.0.0"
echo c >&7
kill -USR1 "$wpid"
wait "$wpid"
check "... a cancel stops it (exit 0, within $((SECONDS - t0)) s)" test $? -eq 0 -a $((SECONDS - t0)) -lt 15
exec 7>&-
check "... final result CANCELLED, from the cleanup it exec'd" \
	has "$(result "$D/dep6")" "^result 12 6.0.0 cancelled before activation, while downloading or unpacking: interrupted deploy of 6.0.0 was abandoned before activation; 1.0.0 stays live"
check "... no download or staging is left" eq "$(ls -A "$A/srv/web/releases" | grep -c '^\.')" 0
check "... nothing in flight" eq "$(sqlite3 "$A/state/state.db" 'SELECT count(*) FROM inflight')" 0
check "... current is unchanged" eq "$(current)" "releases/1.0.0"
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
hpid=

# CANCEL after activation: the deploy runs to its end.
sed -i 's/^MinHealthy=0/MinHealthy=2s/' "$A/apps/web.conf"
mkfifo "$D/cancel8"
exec 7<>"$D/cancel8"
"$AGENT" --config "$A/agent.conf" worker --parent=$$ --cancel-fd=0 --manifest="$(manifest 8.0.0)" \
	--version=8.0.0 -- deploy web <&7 >"$D/dep8" 2>>"$D/worker.err" &
wpid=$!
check "deploy 8.0.0 activates" wait_for 20 grep -q '^phase 6 health' "$D/dep8"
echo c >&7
kill -USR1 "$wpid"
wait "$wpid"
exec 7>&-
check "... a cancel after activation changes nothing: COMMITTED" has "$(result "$D/dep8")" "^result 7 8.0.0 web 8.0.0 is live and healthy"
check "... 8.0.0 is live" eq "$(current)" "releases/8.0.0"
check "the worker never crashed" bash -c "! grep -qi 'sanitizer\|segfault\|core dumped' '$D/worker.err'"

# ---- part B: a coordinated rollback cancels a host still deploying ----
cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
HeartbeatInterval=1s
MetricsListen=
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init >/dev/null || { echo "not ok - rollwave-coordinator init"; exit 1; }
"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
RW() { "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }
count_is() { [ "$(RW hosts --json | jq --arg s "$1" '[.hosts[] | select(.state == $s)] | length')" = "$2" ]; }

# agent 1: sick on 7.0.0 within 2 s; agent 2: plain; agent 3: a long
# health check (still checking when the rollback starts).
declare -A health=([1]="Exec=/bin/sh -c 'test ! -e $D/agent1/srv/web/current/BAD'
MinHealthy=300ms
Deadline=2s" [2]="Exec=/bin/true
MinHealthy=300ms" [3]="Exec=/bin/true
MinHealthy=8s
Deadline=30s")
for n in 1 2 3; do
	a=$D/agent$n
	mkdir -p "$a/apps"
	printf '[App]\nName=web\nRoot=%s/srv/web\n\n[Health]\nInterval=100ms\n%s\n' "$a" "${health[$n]}" >"$a/apps/web.conf"
	cat >"$a/agent.conf" <<EOF
[Agent]
StateDirectory=$a/state
AppsDirectory=$a/apps
TrustedKeys=$D/release.pub
Coordinator=tls+tcp://localhost:$PORT
Labels=agent=a$n
HeartbeatInterval=1s
JoinTokenFile=$D/join-token

[TLS]
CA=$D/tls/ca.crt
EOF
	"$AGENT" --config "$a/agent.conf" run >>"$D/agent$n.log" 2>&1 &
	apid[$n]=$!
done
check "three agents enrol" wait_for 20 count_is pending 3
RW hosts accept --all-pending >/dev/null
check "... and are up" wait_for 20 count_is up 3
declare -A hid=()
for n in 1 2 3; do hid[$n]=$(RW hosts --selector "agent=a$n" --json | jq -r '.hosts[0].id'); done
has_web() { [ "$(RW apps --json | jq '[.apps[] | select(.app == "web")] | length')" = 1 ]; }
check "the hosts report app web" wait_for 20 has_web
on() { local v=$1 n; shift; for n in "$@"; do eq "$(readlink "$D/agent$n/srv/web/current")" "releases/$v" || return 1; done; }

sed -i 's/^MinHealthy=8s/MinHealthy=300ms/' "$D/agent3/apps/web.conf"
out=$(timeout 60 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy web 1.0.0 --manifest "$(manifest 1.0.0)" \
	--strategy all-at-once --min-healthy 1s --wave-timeout 40s --wait 2>&1)
check "all-at-once deploy of 1.0.0 exits 0" eq "$?" 0 || {
	echo "$out"
	sqlite3 "$D/state.db" "SELECT at_ms, actor, action, target, detail FROM audit"
	tail -n 20 "$D/coordinator.log" "$D"/agent[123].log
} | sed 's/^/#   /'
check "... every host runs 1.0.0" on 1.0.0 1 2 3
sed -i 's/^MinHealthy=300ms/MinHealthy=8s/' "$D/agent3/apps/web.conf"

t0=$SECONDS
out=$(timeout 90 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy web 7.0.0 --manifest "$(manifest 7.0.0)" \
	--strategy all-at-once --min-healthy 1s --wave-timeout 60s --wait 2>&1)
rc=$?
took=$((SECONDS - t0))
dep=$(RW history web --json | jq -r '.deployments[0].deployment_id')
check "7.0.0 (sick on host 1) fails (exit 1)" eq "$rc" 1 || echo "$out" | sed 's/^/#   /'
check "... it was rolled back" eq "$(RW status "$dep" --json | jq -r .state)" rolled_back
check "... without waiting for host 2's 60 s hook (took $took s)" test "$took" -lt 45
check "... host 2 was in its before_activate hook" test -e "$D/ba7-started"
task() { sqlite3 "$D/state.db" "SELECT $3 FROM tasks WHERE deployment_id = $dep AND host_id = ${hid[$1]} AND kind = '$2'"; }
check "... the coordinator sent host 2 a CANCEL" test -n "$(task 2 cancel command_id)"
check "... host 2's deploy ended in PHASE_CANCELLED (12)" eq "$(task 2 deploy phase)" 12
check "... its agent stopped it" has "$(cat "$D/agent2.log")" "cancelling command $(task 2 deploy command_id) \(deploy\)"
# The coordinator ran the release's migrate step first, on one host of the
# wave: there releases/7.0.0 was unpacked by the migrate command, not by the
# cancelled deploy, and stays.
if [ -n "$(task 2 migrate command_id)" ]; then
	check "... before activation (host 2 ran the migrate step: 7.0.0 stays unpacked)" \
		has "$(cat "$D/agent2.log")" "deploy of web 7.0.0 cancelled before activation"
else
	check "... before activation, removing what it unpacked" \
		has "$(cat "$D/agent2.log")" "deploy of web 7.0.0 cancelled before activation; removed releases/7.0.0"
	check "... releases/7.0.0 is gone from host 2" test ! -e "$D/agent2/srv/web/releases/7.0.0"
fi
check "... host 2 still runs 1.0.0" on 1.0.0 2
check "... host 3 had activated: the cancel let it finish" \
	has "$(cat "$D/agent3.log")" "command $(task 3 deploy command_id) \(deploy\) already activated: it runs to its end"
check "... its deploy committed" eq "$(task 3 deploy state)" committed
check "... and the coordinator rolled it back" eq "$(task 3 rollback state)" committed
check "... host 1 rolled back on its own, then by the coordinator" eq "$(task 1 deploy state)/$(task 1 rollback state)" rolled_back/committed
check "every host runs 1.0.0 again" on 1.0.0 1 2 3

check "final reports carry hook output" has "$(cat "$D/agent2.log")" "command $(task 2 deploy command_id) \(deploy\): .*\[[0-9]+ bytes of hook output\]"

# ---- a migrate hook refused as busy is asked again ----
# Host 1 sits in a 34 s deploy of another app (side) when web 10.0.0
# (with a migrate hook) comes with --force: its preflight is refused as
# busy until the coordinator's 20 retries (one a second) run out (counted
# failed, --force goes on), then its migrate hook is refused as busy too
# and asked again until host 1 is free, where before the deployment failed
# at once. 34 s leaves margin both ways: beyond the preflight's retries on
# a slow machine, within the migrate's on a fast one.
APP=side hook 1.0.0 before_activate "touch '$D/side-started'; sleep 34"
APP=side release 1.0.0 || { echo "not ok - release side 1.0.0"; exit 1; }
printf '[App]\nName=side\nRoot=%s/srv/side\n\n[Health]\nExec=/bin/true\nMinHealthy=0\nInterval=100ms\n' \
	"$D/agent1" >"$D/agent1/apps/side.conf"
timeout 120 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy side 1.0.0 \
	--manifest "file://$D/rel/side-1.0.0.manifest" --hosts "${hid[1]}" --timeout 90s >"$D/side.out" 2>&1 &
spid=$!
check "host 1 is in a long deploy of app side" wait_for 20 test -e "$D/side-started"
sdep=$(RW history side --json | jq -r '.deployments[0].deployment_id')
out=$(RW pause "$sdep" 2>&1)
check "... pausing that --hosts deployment is refused, saying why" \
	eq "$?:$(has "$out" "deployment $sdep \(running\) was sent with --hosts: it has no waves" && echo y)" 1:y
out=$(timeout 120 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy web 10.0.0 --manifest "$(manifest 10.0.0)" \
	--selector agent=a1 --strategy all-at-once --min-healthy 300ms --wave-timeout 60s --force --wait 2>&1)
check "web 10.0.0 on that busy host (--force) succeeds" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep=$(RW history web --json | jq -r '.deployments[0].deployment_id')
check "... its preflight was refused as busy until counted failed" \
	has "$(sqlite3 "$D/state.db" "SELECT detail FROM audit WHERE action = 'deploy.preflight_forced' AND target = 'deployment:$dep'")" "busy"
check "... its migrate was refused as busy, then asked again" \
	test "$(sqlite3 "$D/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep AND kind = 'migrate' AND state = 'refused' AND error LIKE '%busy%'")" -ge 1
check "... and ran once host 1 was free" eq "$(sqlite3 "$D/state.db" "SELECT state FROM tasks WHERE deployment_id = $dep AND kind = 'migrate' ORDER BY command_id DESC LIMIT 1")" committed
check "... the hook ran" test -e "$D/mig10.hook"
check "... host 1 runs web 10.0.0" on 10.0.0 1
wait "$spid"
check "... and side 1.0.0 finished its deploy on host 1" eq "$?:$(readlink "$D/agent1/srv/side/current")" 0:releases/1.0.0
check "no agent crashed" bash -c "! grep -qi 'sanitizer\|segfault' $D/agent*.log $D/coordinator.log"

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
