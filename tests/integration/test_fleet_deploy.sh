#!/bin/bash
# `rollwave deploy` and `rollwave rollback` end to end, with real processes
# on loopback and no systemd: the real coordinator over TLS and three real
# `rollwave-agent run` daemons (each its own state, apps and an app `demo`
# without units, healthy by `Exec=/bin/true`). Releases 1.0.0 and 2.0.0
# signed with a trusted key go live on every host (current -> releases/V),
# a rollback returns every host to 1.0.0, a manifest signed by an untrusted
# key fails on every host with the agent's reason and changes nothing, an
# unknown host id is refused naming the host, a rollback --to a version
# moves every host there, the audit log has the deployments, and a deploy
# that includes a down host says so at once.
#
#   tests/integration/test_fleet_deploy.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
D=$(mktemp -d "$BUILD_DIR/rw-fleet-deploy.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
MPORT=$(th_port 1)
cpid=
declare -A apid=()
passed=0
failed=0
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null
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
	tar --owner=0 --group=0 --numeric-owner -czf "$D/rel/demo-$1.tar.gz" -C "$tree" VERSION &&
		"$RW_BIN" release create --app demo --version "$1" --artifact "$D/rel/demo-$1.tar.gz" \
			-s "$2" --output "$D/rel/demo-$1.manifest" >/dev/null
}
for v in 1.0.0 2.0.0; do
	release $v "$D/release.key" || { echo "not ok - release $v"; exit 1; }
done
release 3.0.0 "$D/other.key" || { echo "not ok - release 3.0.0"; exit 1; }
manifest() { echo "file://$D/rel/demo-$1.manifest"; }

# ---- the coordinator (TLS on loopback, admins on an ipc socket) ----
cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://127.0.0.1:$PORT
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
HeartbeatInterval=1s
Insecure=no
MetricsListen=127.0.0.1:$MPORT
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init >/dev/null || {
	echo "not ok - rollwave-coordinator init"
	exit 1
}
"$COORD" --config "$D/c.conf" run >>"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 50); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done

# ---- three agents: each its own StateDirectory, apps and app root ----
for n in 1 2 3; do
	a=$D/agent$n
	mkdir -p "$a/apps" "$a/srv/demo"
	cat >"$a/apps/demo.conf" <<EOF
[App]
Name=demo
Root=$a/srv/demo

[Health]
Exec=/bin/true
MinHealthy=1500ms
Deadline=20s
Interval=100ms
EOF
	cat >"$a/agent.conf" <<EOF
[Agent]
StateDirectory=$a/state
AppsDirectory=$a/apps
TrustedKeys=$D/release.pub
Coordinator=tls+tcp://localhost:$PORT
Labels=ring=$n
HeartbeatInterval=1s
JoinTokenFile=$D/join-token

[TLS]
CA=$D/tls/ca.crt
EOF
	"$AGENT" --config "$a/agent.conf" run >>"$D/agent$n.log" 2>&1 &
	apid[$n]=$!
done

count_state() { RW hosts --json | jq --arg s "$1" '[.hosts[] | select(.state == $s)] | length'; }
count_is() { [ "$(count_state "$1")" = "$2" ]; }
check "three agents enrol" wait_for 20 count_is pending 3
for id in $(RW hosts pending --json | jq -r '.hosts[].id'); do RW hosts accept "$id" >/dev/null; done
check "accepted, they are up" wait_for 20 count_is up 3
# Host ids, and which agent each one is (by its key's fingerprint).
fingerprint() { grep -o 'ed25519:[0-9a-f]*' "$D/agent$1.log" | head -1; }
host_id() { RW hosts --json | jq -r --arg fp "$(fingerprint "$1")" '.hosts[] | select(.fingerprint == $fp) | .id'; }
declare -A hid=()
for n in 1 2 3; do hid[$n]=$(host_id $n); done
IDS="${hid[1]},${hid[2]},${hid[3]}"
check "every agent has a host id ($IDS)" has "$IDS" '^[0-9]+,[0-9]+,[0-9]+$'
hostname1=$(RW host "${hid[1]}" --json | jq -r .hostname)

current() { readlink "$D/agent$1/srv/demo/current"; }
all_current() { for n in 1 2 3; do eq "$(current $n)" "releases/$1" || return 1; done; }

# ---- deploy 1.0.0 to every host ----
out=$(RWT deploy demo 1.0.0 --manifest "$(manifest 1.0.0)" --hosts "$IDS" --timeout 90s 2>&1)
rc=$?
check "deploy 1.0.0 to three hosts exits 0" eq "$rc" 0 || echo "$out" | sed 's/^/#   /'
check "... prints the deployment id" has "$out" '^Deployment [0-9]+: deploy demo 1\.0\.0 on 3 hosts'
for n in 1 2 3; do
	check "... and host ${hid[$n]}'s command id" has "$out" "^host ${hid[$n]} \([^)]*\): command [0-9]+$"
done
check "... follows the phases" has "$out" "^host ${hid[1]} \($hostname1\): (fetching|verifying|unpacking|activating|restarting|health)$"
check "... prints each host committed" eq "$(grep -cE '^host [0-9]+ \(.*\): committed$' <<<"$out")" 3
check "... and the summary" has "$out" '^Deployment [0-9]+: 3 of 3 hosts committed\.$'
check "... and the table" has "$out" "^${hid[2]} \(.*\) +committed +-$"
check "every agent's current points at releases/1.0.0" all_current 1.0.0
check "... and holds 1.0.0" eq "$(cat "$D/agent2/srv/demo/current/VERSION")" 1.0.0
dep1=$(sed -nE 's/^Deployment ([0-9]+): deploy .*/\1/p' <<<"$out")

# ---- deploy 2.0.0, as a script would (--json) ----
json=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --hosts "$IDS" --timeout 90s --json)
rc=$?
check "deploy 2.0.0 --json exits 0" eq "$rc" 0 || echo "$json" | sed 's/^/#   /'
check "... one document: succeeded" eq "$(jq -r .succeeded <<<"$json")" true
check "... for app and version" eq "$(jq -r '.app + " " + .version' <<<"$json")" "demo 2.0.0"
check "... every host committed with a command id" \
	eq "$(jq -r '[.hosts[] | select(.state == "committed" and .phase == "committed" and .command_id > 0 and .error == null)] | length' <<<"$json")" 3
check "... the hosts asked for" eq "$(jq -r '[.hosts[].host_id] | sort | map(tostring) | join(",")' <<<"$json")" \
	"$(tr , '\n' <<<"$IDS" | sort -n | paste -sd,)"
check "... a new deployment id" test "$(jq -r .deployment_id <<<"$json")" -gt "${dep1:-0}"
check "every agent's current points at releases/2.0.0" all_current 2.0.0

# ---- roll back every host to its previous release ----
out=$(RWT rollback demo --hosts "$IDS" --timeout 90s 2>&1)
rc=$?
check "rollback exits 0" eq "$rc" 0 || echo "$out" | sed 's/^/#   /'
check "... prints the deployment" has "$out" '^Deployment [0-9]+: rollback demo on 3 hosts'
check "... and every host committed" has "$out" '^Deployment [0-9]+: 3 of 3 hosts committed\.$'
check "every agent's current is back at releases/1.0.0" all_current 1.0.0

# ---- a manifest signed by an untrusted key: every host fails, nothing moves ----
out=$(RWT deploy demo 3.0.0 --manifest "$(manifest 3.0.0)" --hosts "$IDS" --timeout 90s 2>&1)
rc=$?
check "deploying a release signed by an untrusted key exits 1" eq "$rc" 1 || echo "$out" | sed 's/^/#   /'
check "... every host failed" eq "$(grep -cE '^host [0-9]+ \(.*\): failed: .+' <<<"$out")" 3
check "... with the agent's reason" has "$out" '^host [0-9]+ \(.*\): failed: .*(trusted|key|signature)'
check "... the summary says so" has "$out" '^Deployment [0-9]+: 0 of 3 hosts committed; 3 failed\.$'
check "... and the table" has "$out" "^${hid[3]} \(.*\) +failed +.*(trusted|key|signature)"
check "current is unchanged on every host" all_current 1.0.0
check "... and no release 3.0.0 was unpacked" test ! -e "$D/agent1/srv/demo/releases/3.0.0"
hist=$(RW history demo --json)
check "history says this deployment failed, with when it ended" \
	eq "$(jq -r '.deployments[0] | .version + " " + .state + " " + (.finished != null | tostring)' <<<"$hist")" "3.0.0 failed true"
check "... and the rollback before it succeeded" eq "$(jq -r '.deployments[1].state' <<<"$hist")" succeeded
check "... the history table names it a rollback to each host's previous release" \
	has "$(RW history demo)" "^[0-9]+ .* demo +previous +rollback +succeeded"
metric() { curl -fsS "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
check "metrics: 6 deploy tasks committed" eq "$(metric 'rollwave_task_results_total{kind="deploy",result="committed"}')" 6
check "metrics: 3 rollback tasks committed" eq "$(metric 'rollwave_task_results_total{kind="rollback",result="committed"}')" 3
check "metrics: 3 deploy tasks failed" eq "$(metric 'rollwave_task_results_total{kind="deploy",result="failed"}')" 3

# ---- refusals ----
out=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --hosts "${hid[1]},99" 2>&1)
rc=$?
check "a deploy to an unknown host is refused (exit 1)" eq "$rc" 1
check "... naming the host" has "$out" 'host 99'
check "... and nothing was deployed" all_current 1.0.0
out=$(RWT rollback demo --hosts 99 2>&1)
check "a rollback on an unknown host is refused (exit 1)" eq "$?" 1
check "... naming the host" has "$out" 'host 99'
out=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --hosts "${hid[1]},${hid[1]}" 2>&1)
check "a host listed twice is a usage error (exit 2)" eq "$?" 2
out=$(RWT deploy demo 2.0/x --manifest "$(manifest 2.0.0)" --hosts "${hid[1]}" 2>&1)
check "an invalid version is a usage error (exit 2)" eq "$?" 2
out=$(RWT deploy Demo 2.0.0 --manifest "$(manifest 2.0.0)" --hosts "${hid[1]}" 2>&1)
check "an invalid app name is a usage error (exit 2)" eq "$?" 2

# ---- a manifest of another version than the one asked for ----
out=$(RWT deploy demo 5.0.0 --manifest "$(manifest 2.0.0)" --hosts "${hid[1]}" --timeout 60s 2>&1)
rc=$?
check "deploy 5.0.0 with the manifest of 2.0.0 fails (exit 1)" eq "$rc" 1
check "... the agent names both versions" has "$out" "is for demo 2\.0\.0, but 5\.0\.0 was asked for"
check "... and host ${hid[1]} stays at 1.0.0" eq "$(current 1)" releases/1.0.0
# Whatever happened, every host back at 1.0.0 for what follows.
if [ "$(current 1)" != releases/1.0.0 ]; then
	RWT rollback demo --to 1.0.0 --hosts "${hid[1]}" --timeout 60s >/dev/null 2>&1
fi
check "host ${hid[1]} is at 1.0.0" eq "$(current 1)" releases/1.0.0

# ---- roll back to a named version ----
out=$(RWT rollback demo --to 2.0.0 --hosts "$IDS" --timeout 90s --json 2>&1)
rc=$?
check "rollback --to 2.0.0 --json exits 0" eq "$rc" 0 || echo "$out" | sed 's/^/#   /'
check "... the document names the version" eq "$(jq -r '.version + " " + (.succeeded | tostring)' <<<"$out")" "2.0.0 true"
check "every agent's current points at releases/2.0.0" all_current 2.0.0

# ---- the audit log has the deployments ----
events=$(RW events --json --limit 1000)
check "the audit log has the deploys" eq "$(jq '[.events[] | select(.action == "deploy.start")] | length' <<<"$events")" 4
check "... and the rollbacks" test "$(jq '[.events[] | select(.action == "rollback.start")] | length' <<<"$events")" -ge 2
check "... and each host's result" test "$(jq '[.events[] | select(.action == "task.committed")] | length' <<<"$events")" -ge 12
check "... and the failures with the agent's reason" \
	eq "$(jq '[.events[] | select(.action == "task.failed" and (.detail | test("untrusted key")))] | length' <<<"$events")" 3
check "... with who asked" has "$(jq -r '.events[] | select(.action == "deploy.start") | .actor' <<<"$events" | head -1)" '^admin'
check "... and what" has "$(jq -r '.events[] | select(.action == "deploy.start") | .detail' <<<"$events" | head -1)" 'demo.*1\.0\.0'
check "the coordinator is still serving" kill -0 "$cpid"

# ---- a host that does not answer: --timeout ends the wait, exit 1 ----
kill -9 "${apid[3]}"
wait "${apid[3]}" 2>/dev/null
unset 'apid[3]'
t0=$SECONDS
out=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --hosts "${hid[3]}" --timeout 3s 2>&1)
rc=$?
check "a deploy to a host that never answers stops at --timeout with exit 1" eq "$rc" 1 ||
	echo "$out" | sed 's/^/#   /'
check "... in about 3 s (took $((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 8
check "... and says so" has "$out" '^Deployment [0-9]+: 0 of 1 host committed; 1 (queued|sent); timed out\.$'

# ---- a host that is down: said at once, not after the timeout ----
host_state() { RW host "$1" --json | jq -r .state; }
host_is() { [ "$(host_state "$1")" = "$2" ]; }
check "host ${hid[3]}, its agent killed, is marked down" wait_for 15 host_is "${hid[3]}" down
timeout 60 "$RW_BIN" --coordinator "ipc://$D/admin.sock" deploy demo 2.0.0 \
	--manifest "$(manifest 2.0.0)" --hosts "${hid[1]},${hid[3]}" --timeout 30s >"$D/down.out" 2>&1 &
dpid=$!
said_down() { grep -Eq "host ${hid[3]}( \([^)]*\))? is down: its command waits .* until the host is back" "$D/down.out"; }
check "a deploy that includes a down host says so within 2 s, not at its timeout" wait_for 2 said_down ||
	sed 's/^/#   /' "$D/down.out"
check "... naming only the host that is down" test "$(grep -c 'is down' "$D/down.out")" -eq 1
check "... and still follows the deployment" kill -0 "$dpid"
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null

echo "# $passed passed, $failed failed"
[ "$failed" -eq 0 ]
