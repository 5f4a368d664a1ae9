#!/bin/bash
# Gates and blue-green end to end, with real processes on loopback: the real
# coordinator over TLS, four real `rollwave-agent run` daemons (colors blue:
# hosts 1-2, green: 3-4) and a small server speaking Prometheus' query API
# (tests/harness/fake_prometheus.py) whose answers the test sets. A metric
# gate passes, fails (coordinated rollback) and holds on no data until data
# comes; the values behind each verdict are in the audit log. A blue-green
# deployment installs on the idle color, runs the traffic command and keeps
# the old color; `rollwave rollback` switches traffic back first. A freeze
# window refuses or holds a deployment. `rollwave abort --rollback` stops a
# deployment mid-bake and rolls its hosts back.
#
#   tests/integration/test_waves_gates.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
D=$(mktemp -d "$BUILD_DIR/rw-waves-gates.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
PPORT=$(th_port 1)
cpid=
declare -A apid=()
passed=0
failed=0
ppid_=
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
	[ -n "$ppid_" ] && kill "$ppid_" 2>/dev/null
	for p in "${apid[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$failed" -eq 0 ]; then rm -rf "$D"; else echo "# work files kept in $D"; fi
}
trap cleanup EXIT
source "$(dirname "$0")/../harness/checks.sh"
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
RW() { "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }
# Every deploy and rollback is bounded: --timeout, and timeout(1) above it.
RWT() { timeout 120 "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }

# ---- release keys and releases ----
"$RW_BIN" release keygen -W -p "$D/release.pub" -s "$D/release.key" >/dev/null &&
	"$RW_BIN" release keygen -W -p "$D/other.pub" -s "$D/other.key" >/dev/null || {
	echo "not ok - rollwave release keygen"
	exit 1
}
# release VERSION KEY: $D/rel/demo-VERSION.manifest for a tarball holding VERSION.
release() {
	local tree=$D/tree-$1
	mkdir -p "$tree" "$D/rel"
	echo "$1" >"$tree/VERSION"
	tar --owner=0 --group=0 --numeric-owner -czf "$D/rel/demo-$1.tar.gz" -C "$tree" . &&
		"$RW_BIN" release create --app demo --version "$1" --artifact "$D/rel/demo-$1.tar.gz" \
			-s "$2" --output "$D/rel/demo-$1.manifest" >/dev/null
}
manifest() { echo "file://$D/rel/demo-$1.manifest"; }

for v in 1.0.0 2.0.0 3.0.0 4.0.0 5.0.0 6.0.0; do
	release $v "$D/release.key" || { echo "not ok - release $v"; exit 1; }
done

# ---- the coordinator ----
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
start_coordinator() {
	"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
	cpid=$!
	# Until it answers (a killed one leaves its socket file behind).
	for _ in $(seq 100); do
		"$RW_BIN" --coordinator "ipc://$D/admin.sock" hosts >/dev/null 2>&1 && break
		sleep 0.1
	done
}
start_coordinator

count_state() { RW hosts --json | jq --arg s "$1" '[.hosts[] | select(.state == $s)] | length'; }
count_is() { [ "$(count_state "$1")" = "$2" ]; }

# ---- four agents ----
declare -A color=([1]=blue [2]=blue [3]=green [4]=green)
for n in 1 2 3 4; do
	a=$D/agent$n
	mkdir -p "$a/apps" "$a/srv/demo"
	cat >"$a/apps/demo.conf" <<EOF
[App]
Name=demo
Root=$a/srv/demo

[Health]
Exec=/bin/sh -c 'test ! -e $a/srv/demo/current/BAD'
MinHealthy=500ms
Deadline=10s
Interval=100ms
EOF
	cat >"$a/agent.conf" <<EOF
[Agent]
StateDirectory=$a/state
AppsDirectory=$a/apps
TrustedKeys=$D/release.pub
Coordinator=tls+tcp://localhost:$PORT
Labels=color=${color[$n]} agent=a$n
HeartbeatInterval=1s
JoinTokenFile=$D/join-token

[TLS]
CA=$D/tls/ca.crt
EOF
	"$AGENT" --config "$a/agent.conf" run >>"$D/agent$n.log" 2>&1 &
	apid[$n]=$!
	# One at a time, so that agent N is host N (waves are planned by id).
	wait_for 20 count_is pending "$n"
done
check "four agents enrol" count_is pending 4
RW hosts accept --all-pending >/dev/null
check "accepted, they are up" wait_for 20 count_is up 4
declare -A hid=()
for n in 1 2 3 4; do
	hid[$n]=$(RW hosts --selector "agent=a$n" --json | jq -r '.hosts[0].id')
done
current() { readlink "$D/agent$1/srv/demo/current"; }
on() { # on VERSION N...: current is releases/VERSION on agents N...
	local v=$1 n
	shift
	for n in "$@"; do eq "$(current "$n")" "releases/$v" || return 1; done
}
# Hosts report their apps in heartbeats: wait until the coordinator knows demo.
has_demo() { [ "$(RW apps --json | jq '[.apps[] | select(.app == "demo")] | length')" = 1 ]; }
check "the hosts report app demo" wait_for 20 has_demo
FAST="--min-healthy 1s --wave-timeout 60s"
FAST="--min-healthy 1s --wave-timeout 60s"
status() { RW status "$1" --json; }
field() { status "$1" | jq -r "$2"; }
latest() { RW history demo --json | jq -r '.deployments[0].deployment_id'; }

out=$(RWT deploy demo 1.0.0 --manifest "$(manifest 1.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "all-at-once deploy of 1.0.0 exits 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs 1.0.0" on 1.0.0 1 2 3 4

# ---- metric gates against a server speaking Prometheus' query API ----
echo '{}' >"$D/prom.json"
python3 "$(dirname "$(readlink -f "$0")")/../harness/fake_prometheus.py" "$PPORT" "$D/prom.json" >"$D/prom.log" 2>&1 &
ppid_=$!
GATE="--prometheus-url http://127.0.0.1:$PPORT --set Gate.errors.Query=error_rate --set Gate.errors.Condition=max<0.05 --set Gate.errors.NoData=hold"
echo '{"error_rate": [0.01, 0.02]}' >"$D/prom.json"
out=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --strategy rolling --batch 2 $FAST $GATE --wait 2>&1)
check "a metric gate that passes lets the deployment succeed" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... Prometheus was asked" has "$(cat "$D/prom.log")" "^query error_rate$"
check "... the verdict and its values are in the audit log" \
	has "$(sqlite3 "$D/state.db" "SELECT detail FROM audit WHERE action = 'deploy.gate' AND target = 'deployment:$dep'")" "pass.*0\.02"

echo '{"error_rate": [0.01, 0.30]}' >"$D/prom.json"
out=$(RWT deploy demo 3.0.0 --manifest "$(manifest 3.0.0)" --strategy rolling --batch 2 $FAST $GATE --wait 2>&1)
check "a metric gate that fails exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... the deployment is rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... because of the gate, with the value" has "$(field "$dep" .reason)" "errors.*0\.3"
check "... every host that took 3.0.0 is back on 2.0.0" on 2.0.0 1 2 3 4
check "... the failing value is in the audit log" \
	has "$(sqlite3 "$D/state.db" "SELECT detail FROM audit WHERE action = 'deploy.gate' AND target = 'deployment:$dep'")" "fail.*0\.3"

echo '{}' >"$D/prom.json"
out=$(RWT deploy demo 4.0.0 --manifest "$(manifest 4.0.0)" --strategy rolling --batch 2 $FAST $GATE --json)
dep=$(jq -r .deployment_id <<<"$out")
holding() { [ "$(field "$dep" .step)" = gates ] && has "$(field "$dep" '.waves[0].verdict')" "hold"; }
check "with no data the gate holds (NoData=hold)" wait_for 60 holding
sleep 2
check "... and the deployment waits in wave 1" eq "$(field "$dep" '.wave')" 1
echo '{"error_rate": [0.001]}' >"$D/prom.json"
check "... until data comes and it passes" eq "$(RWT watch "$dep" </dev/null >/dev/null; echo $?)" 0
check "... every host runs 4.0.0" on 4.0.0 1 2 3 4

# ---- blue-green ----
echo blue >"$D/live"
BG="--strategy blue-green --live-color blue --traffic-command 'echo %c > $D/live'"
out=$(eval RWT deploy demo 5.0.0 --manifest "$(manifest 5.0.0)" $BG $FAST --wait 2>&1)
check "blue-green deploy exits 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... installs on the idle color (green)" on 5.0.0 3 4
check "... keeps the live color's release for switch-back" on 4.0.0 1 2
check "... and switches traffic to green" eq "$(cat "$D/live")" green
check "... the switch is in the audit log" \
	test "$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action = 'deploy.switch' AND target = 'deployment:$dep'")" = 1
out=$(RWT rollback demo --wait 2>&1)
check "rollback switches traffic back to blue" eq "$(cat "$D/live")" blue || echo "$out" | sed 's/^/#   /'
check "... and takes green back to 4.0.0" on 4.0.0 1 2 3 4
check "... the deployment is rolled_back" eq "$(field "$dep" .state)" rolled_back

# ---- freeze windows ----
out=$(RW deploy demo 6.0.0 --manifest "$(manifest 6.0.0)" --freeze 2000-01-01..2099-12-31 --freeze-policy refuse 2>&1)
check "a deployment inside a freeze with FreezePolicy=refuse is refused" eq "$?" 1
check "... saying so" has "$out" "freeze"
out=$(RW deploy demo 6.0.0 --manifest "$(manifest 6.0.0)" --freeze 2000-01-01..2099-12-31 --json)
dep=$(jq -r .deployment_id <<<"$out")
check "with FreezePolicy=wait it waits" eq "$(field "$dep" .step)" freeze
sleep 2
check "... no host is touched" on 4.0.0 1 2 3 4
check "abort ends it" has "$(RW abort "$dep")" "is aborted"
check "... audited" eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action = 'deploy.aborted' AND target = 'deployment:$dep'")" 1
# ---- abort --rollback ----
out=$(RWT deploy demo 6.0.0 --manifest "$(manifest 6.0.0)" --strategy rolling --batch 2 --bake 60s $FAST --json)
dep=$(jq -r .deployment_id <<<"$out")
baking() { [ "$(field "$dep" .step)" = bake ]; }
check "6.0.0 bakes after wave 1" wait_for 60 baking
check "... wave 1 runs 6.0.0" on 6.0.0 1 2
out=$(RW abort "$dep" --rollback)
check "abort --rollback stops it and rolls back" has "$out" "Deployment $dep is running \(rollback\)"
rolled() { [ "$(field "$dep" .state)" = rolled_back ]; }
check "... it ends rolled_back" wait_for 60 rolled
check "... wave 1 is back on 4.0.0, wave 2 never moved" on 4.0.0 1 2 3 4
check "... the reason says who aborted" has "$(field "$dep" .reason)" "aborted by admin:"

for v in 7.0.0 8.0.0 9.0.0 10.0.0; do
	release $v "$D/release.key" || { echo "not ok - release $v"; exit 1; }
done

# ---- blue-green remembers which color is live ----
BG2="--strategy blue-green --traffic-command 'echo %c > $D/live'"
out=$(eval RWT deploy demo 7.0.0 --manifest "$(manifest 7.0.0)" $BG2 $FAST --wait 2>&1)
check "blue-green without --live-color uses the color the last switch left live (blue)" eq "$?" 0 ||
	echo "$out" | sed 's/^/#   /'
check "... so 7.0.0 goes to green" on 7.0.0 3 4
check "... blue keeps 4.0.0" on 4.0.0 1 2
check "... traffic is on green" eq "$(cat "$D/live")" green
check "... the live color is recorded" \
	eq "$(sqlite3 "$D/state.db" "SELECT live_color FROM traffic WHERE app = 'demo'")" green
out=$(eval RW plan demo 8.0.0 $BG2 --live-color blue 2>&1)
check "--live-color blue while green is live is refused" has "$out" "green is live"
out=$(eval RWT deploy demo 8.0.0 --manifest "$(manifest 8.0.0)" $BG2 $FAST --wait 2>&1)
check "the next blue-green deployment goes to blue" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... blue runs 8.0.0, green keeps 7.0.0" bash -c "[ \"\$(readlink $D/agent1/srv/demo/current) \$(readlink $D/agent4/srv/demo/current)\" = 'releases/8.0.0 releases/7.0.0' ]"
check "... traffic is on blue" eq "$(cat "$D/live")" blue

# ---- metric gates: placeholders, and Prometheus errors are not "no data" ----
GATE2=(--prometheus-url "http://127.0.0.1:$PPORT" --set 'Gate.errors.Query=error_rate{version="${version}"}'
	--set 'Gate.errors.Condition=max<0.05' --set Gate.errors.NoData=pass)
echo '{"error_rate{version=\"9.0.0\"}": "error"}' >"$D/prom.json"
out=$(RWT deploy demo 9.0.0 --manifest "$(manifest 9.0.0)" --strategy all-at-once $FAST "${GATE2[@]}" --json 2>&1)
dep=$(jq -r .deployment_id <<<"$out")
erroring() { [ "$(field "$dep" .step)" = gates ] && has "$(field "$dep" '.waves[0].verdict')" "OnError=hold"; }
check "a query Prometheus refuses holds the gate (OnError=hold), even with NoData=pass" wait_for 60 erroring ||
	echo "$out" | sed 's/^/#   /'
check "... the query named the deployment's version" has "$(cat "$D/prom.log")" '^query error_rate\{version="9.0.0"\}$'
echo '{"error_rate{version=\"9.0.0\"}": [0.001]}' >"$D/prom.json"
check "... once Prometheus answers, it passes" eq "$(RWT watch "$dep" </dev/null >/dev/null; echo $?)" 0
echo '{"error_rate{version=\"10.0.0\"}": "error"}' >"$D/prom.json"
out=$(RWT deploy demo 10.0.0 --manifest "$(manifest 10.0.0)" --strategy all-at-once $FAST "${GATE2[@]}" \
	--set Gate.errors.OnError=fail --wait 2>&1)
check "with OnError=fail a Prometheus error fails the gate (exit 1)" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... rolled back, saying why" has "$(field "$dep" '.state + " " + .reason')" "^rolled_back .*OnError=fail"
check "... every host is back on 9.0.0" on 9.0.0 1 2 3 4

# ---- a fleet-wide freeze in coordinator.conf applies to every deployment ----
kill "$cpid"
wait "$cpid" 2>/dev/null
printf '[Freeze]\nWindow=2000-01-01..2099-12-31\nPolicy=refuse\n' >>"$D/c.conf"
start_coordinator
out=$(RW plan demo 11.0.0 --strategy all-at-once 2>&1)
check "rollwave plan shows the fleet's freeze window" has "$out" "2000-01-01..2099-12-31"
out=$(RW deploy demo 11.0.0 --manifest "$(manifest 9.0.0)" --strategy all-at-once 2>&1)
check "... and a deployment inside it is refused (Policy=refuse)" has "$out" "freeze"
check "... nothing started" on 9.0.0 1 2 3 4
check "the coordinator never crashed" bash -c "! grep -qi 'sanitizer\|segfault' '$D/coordinator.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
