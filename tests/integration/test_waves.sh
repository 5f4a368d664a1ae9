#!/bin/bash
# Deployments through waves end to end, with real processes on loopback and
# no systemd: the real coordinator over TLS and four real `rollwave-agent
# run` daemons labelled ring=0..2 and datacenter=dc1/dc2, each with an app
# `demo` whose health check fails for releases holding a BAD file (every
# host) or, on hosts 3 and 4 only, for version 5.0.0. Rolling, plan, ring
# with an approval gate, a canary that fails health and is rolled back on
# the canary only, a failure budget breached in wave 2 that rolls back
# waves 1 and 2, pause/resume, a coordinator SIGKILLed mid-deployment that
# resumes without redeploying finished hosts, `rollwave rollback APP`, and
# the audit log of it all.
#
#   tests/integration/test_waves.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
AGENT=$BUILD_DIR/agent/rollwave-agent
RW_BIN=$BUILD_DIR/cli/rollwave
D=$(mktemp -d "$BUILD_DIR/rw-waves.XXXXXX")
source "$(dirname "$0")/../harness/runid.sh"
th_run_init || exit 1 # this run's loopback ports (th_port), free of parallel runs'
PORT=$(th_port 0)
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
	tar --owner=0 --group=0 --numeric-owner -czf "$D/rel/demo-$1.tar.gz" -C "$tree" . &&
		"$RW_BIN" release create --app demo --version "$1" --artifact "$D/rel/demo-$1.tar.gz" \
			-s "$2" --output "$D/rel/demo-$1.manifest" >/dev/null
}
manifest() { echo "file://$D/rel/demo-$1.manifest"; }

for v in 1.0.0 2.0.0 5.0.0 6.0.0 7.0.0; do
	release $v "$D/release.key" || { echo "not ok - release $v"; exit 1; }
done
# 3.0.0 fails its health check everywhere.
mkdir -p "$D/tree-3.0.0" && touch "$D/tree-3.0.0/BAD"
release 3.0.0 "$D/release.key" || { echo "not ok - release 3.0.0"; exit 1; }
tar -tzf "$D/rel/demo-3.0.0.tar.gz" | grep -q BAD || { echo "not ok - 3.0.0 holds BAD"; exit 1; }

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
declare -A ring=([1]=0 [2]=1 [3]=1 [4]=2) dc=([1]=dc1 [2]=dc1 [3]=dc2 [4]=dc2)
for n in 1 2 3 4; do
	a=$D/agent$n
	mkdir -p "$a/apps" "$a/srv/demo"
	bad5=true
	[ "$n" -ge 3 ] && bad5="! grep -qx 5.0.0 $a/srv/demo/current/VERSION"
	cat >"$a/apps/demo.conf" <<EOF
[App]
Name=demo
Root=$a/srv/demo

[Health]
Exec=/bin/sh -c 'test ! -e $a/srv/demo/current/BAD && $bad5'
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
Labels=ring=${ring[$n]} datacenter=${dc[$n]} agent=a$n
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
status() { RW status "$1" --json; }
field() { status "$1" | jq -r "$2"; }

# ---- rolling ----
out=$(RWT deploy demo 1.0.0 --manifest "$(manifest 1.0.0)" --strategy rolling --batch 2 $FAST --wait 2>&1)
check "rolling deploy of 1.0.0 in batches of 2 exits 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs 1.0.0" on 1.0.0 1 2 3 4
dep1=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... status says succeeded" eq "$(field "$dep1" .state)" succeeded
check "... in 2 waves of 2 hosts" eq "$(field "$dep1" '[.waves[] | .hosts | length] | join(",")')" "2,2"
check "... the waves are in the audit log" \
	eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action = 'deploy.wave' AND target = 'deployment:$dep1'")" 2

# ---- plan ----
plan=$(RW plan demo 2.0.0 --strategy ring --ring-approval 1 --json)
check "plan prints the rings in order" eq "$(jq -r '[.waves[].name] | join(",")' <<<"$plan")" "ring 0,ring 1,ring 2"
check "... with their hosts" eq "$(jq -r '[.waves[] | [.hosts[].id] | sort | map(tostring) | join("+")] | join(",")' <<<"$plan")" \
	"${hid[1]},$(printf '%s\n' "${hid[2]}" "${hid[3]}" | sort -n | paste -sd+),${hid[4]}"
check "... ring 1 waits for an approval" eq "$(jq -r '.waves[1].approval' <<<"$plan")" true
check "... and a rollback plan" test "$(jq '.rollback | length' <<<"$plan")" -ge 1
check "... and changes nothing" eq "$(RW history demo --json | jq '.deployments | length')" 1
cat >"$D/deploy.ini" <<EOF
[Deployment]
Strategy=canary
MinHealthy=1s
[Canary]
Canary=agent=a4
Steps=50%,100%
EOF
plan=$(RW plan demo 2.0.0 -f "$D/deploy.ini" --json)
check "a deployment file gives the options" eq "$(jq -r '.waves[0].name + " " + (.waves[0].hosts[0].id | tostring)' <<<"$plan")" "canary ${hid[4]}"
check "... and its waves" eq "$(jq '.waves | length' <<<"$plan")" 3
check "... flags override the file" eq "$(RW plan demo 2.0.0 -f "$D/deploy.ini" --steps 100% --json | jq '.waves | length')" 2
out=$(RW plan demo 2.0.0 -f "$D/nosuch.ini" 2>&1)
check "a missing deployment file is a usage error" has "$out" "nosuch.ini"
out=$(RW plan demo 2.0.0 --strategy ring --ring-label nosuch 2>&1)
check "a plan that cannot be made says why" has "$out" "nosuch|label"

# ---- ring with an approval gate ----
out=$(RWT deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" --strategy ring --ring-approval 1 $FAST --json)
dep2=$(jq -r .deployment_id <<<"$out")
waiting() { [ "$(field "$dep2" '.step + " " + (.wave | tostring)')" = "approval 2" ]; }
check "ring deployment stops at the approval of ring 1" wait_for 60 waiting
check "... ring 0 runs 2.0.0" on 2.0.0 1
check "... rings 1 and 2 are untouched" on 1.0.0 2 3 4
out=$(RW deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" 2>&1)
check "a second deployment of demo is refused" has "$out" "deployment $dep2 of demo is still active"
check "... and exits 1" eq "$(RW deploy demo 2.0.0 --manifest "$(manifest 2.0.0)" >/dev/null 2>&1; echo $?)" 1
out=$(RW approve "$dep2")
check "rollwave approve lets ring 1 start" has "$out" "Deployment $dep2 is running"
check "... approval audited with who asked" \
	has "$(sqlite3 "$D/state.db" "SELECT actor FROM audit WHERE action = 'deploy.approve' AND target = 'deployment:$dep2'")" "^admin:"
out=$(RWT watch "$dep2" </dev/null)
check "rollwave watch follows it to success (exit 0)" eq "$?" 0
check "... plain lines when piped" has "$out" "^Deployment $dep2 succeeded"
check "every host runs 2.0.0" on 2.0.0 1 2 3 4

# ---- canary of a release that fails health ----
out=$(RWT deploy demo 3.0.0 --manifest "$(manifest 3.0.0)" --strategy canary --canary agent=a2 $FAST --wait 2>&1)
check "a canary of a sick release exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep3=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... and is rolled_back" eq "$(field "$dep3" .state)" rolled_back
check "... the canary failed" eq "$(field "$dep3" '.waves[0].hosts[0].task')" rolled_back
check "... and is back on 2.0.0" on 2.0.0 2
check "... no other host was touched" on 2.0.0 1 3 4
check "... nor got 3.0.0 on disk" bash -c "! ls -d $D/agent{1,3,4}/srv/demo/releases/3.0.0 2>/dev/null | grep -q ."

# ---- failure budget breached in wave 2 ----
out=$(RWT deploy demo 5.0.0 --manifest "$(manifest 5.0.0)" --strategy rolling --batch 2 $FAST --wait 2>&1)
check "5.0.0 (sick on hosts 3 and 4) exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep5=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... rolled_back" eq "$(field "$dep5" .state)" rolled_back
check "... the reason names wave 2" has "$(field "$dep5" .reason)" "wave 2"
check "... waves 1 and 2 are back on 2.0.0" on 2.0.0 1 2 3 4
check "... every host that activated 5.0.0 (all four) got a rollback command" \
	eq "$(sqlite3 "$D/state.db" "SELECT count(DISTINCT host_id) FROM tasks WHERE deployment_id = $dep5 AND kind = 'rollback' AND state = 'committed'")" 4

# ---- pause and resume (agents refuse a version older than one they took:
# 6.0.0 comes after the failed 5.0.0) ----
out=$(RWT deploy demo 6.0.0 --manifest "$(manifest 6.0.0)" --strategy rolling --batch 1 --bake 2s $FAST --json)
dep4=$(jq -r .deployment_id <<<"$out")
check "pause" has "$(RW pause "$dep4")" "is paused"
sleep 4
before=$(sqlite3 "$D/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep4")
sleep 3
check "... a paused deployment starts no host" eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep4")" "$before"
check "resume" has "$(RW resume "$dep4")" "is running"
check "... then it succeeds" eq "$(RWT watch "$dep4" </dev/null >/dev/null; echo $?)" 0
check "... every host runs 6.0.0" on 6.0.0 1 2 3 4

# ---- the coordinator killed mid-deployment ----
out=$(RWT deploy demo 7.0.0 --manifest "$(manifest 7.0.0)" --strategy rolling --batch 1 --bake 3s $FAST --json)
dep6=$(jq -r .deployment_id <<<"$out")
in_wave2() { [ "$(field "$dep6" .wave)" -ge 2 ]; }
check "7.0.0 reaches wave 2" wait_for 60 in_wave2
kill -9 "$cpid"
wait "$cpid" 2>/dev/null
start_coordinator
check "after SIGKILL and restart it resumes and succeeds" eq "$(RWT watch "$dep6" </dev/null >/dev/null; echo $?)" 0
check "... every host runs 7.0.0" on 7.0.0 1 2 3 4
check "... no host got 7.0.0 twice" \
	eq "$(sqlite3 "$D/state.db" "SELECT max(n) FROM (SELECT count(*) AS n FROM tasks WHERE deployment_id = $dep6 AND kind = 'deploy' GROUP BY host_id)")" 1

# ---- rollwave rollback APP ----
out=$(RWT rollback demo --wait 2>&1)
rc=$?
check "rollwave rollback demo --wait exits 0 once rolled back" eq "$rc" 0 || echo "$out" | sed 's/^/#   /'
check "rollwave rollback demo rolls every host back" eq "$(field "$dep6" .state)" rolled_back
check "... to 6.0.0" on 6.0.0 1 2 3 4

# ---- preflight and the migrate hook ----
hooked() { # hooked VERSION MIGRATE_EXIT: a release whose migrate hook exits so
	local tree=$D/tree-$1
	mkdir -p "$tree/.rollwave/hooks"
	printf '#!/bin/sh\necho "migrate $ROLLWAVE_VERSION on $(hostname)" >>%s/migrations\nexit %s\n' "$D" "$2" \
		>"$tree/.rollwave/hooks/migrate"
	printf '#!/bin/sh\necho "migrate_down $ROLLWAVE_VERSION" >>%s/migrations\n' "$D" \
		>"$tree/.rollwave/hooks/migrate_down"
	chmod +x "$tree/.rollwave/hooks/migrate" "$tree/.rollwave/hooks/migrate_down"
	release "$1" "$D/release.key"
}
hooked 8.0.0 1 && hooked 9.0.0 0 || { echo "not ok - hooked releases"; exit 1; }
out=$(RWT deploy demo 8.0.0 --manifest "$(manifest 8.0.0)" --strategy rolling --batch 2 $FAST --wait 2>&1)
check "a release whose migrate hook fails exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep8=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... failed before any host changed" has "$(field "$dep8" '.state + " " + .reason')" "^failed migrate failed on host [0-9]+.*no host was changed"
check "... the hook ran once" eq "$(grep -c 'migrate 8.0.0' "$D/migrations")" 1
check "... every host still runs 6.0.0" on 6.0.0 1 2 3 4
check "... preflight ran on every host first" \
	eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep8 AND kind = 'preflight' AND state = 'committed'")" 4
check "... no deploy task was made" \
	eq "$(sqlite3 "$D/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep8 AND kind = 'deploy'")" 0
out=$(RWT deploy demo 9.0.0 --manifest "$(manifest 9.0.0)" --strategy rolling --batch 2 $FAST --wait 2>&1)
check "a release whose migrate hook succeeds deploys (exit 0)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... its migrate ran once" eq "$(grep -c 'migrate 9.0.0' "$D/migrations")" 1
check "... every host runs 9.0.0" on 9.0.0 1 2 3 4
out=$(RWT rollback demo --wait 2>&1)
check "rolling it back runs migrate_down once" eq "$(grep -c 'migrate_down 9.0.0' "$D/migrations")" 1 || echo "$out" | sed 's/^/#   /'
check "... after every host is back on 6.0.0" on 6.0.0 1 2 3 4
out=$(RW deploy demo 9.0.0 --manifest "file://$D/rel/nosuch.manifest" --strategy all-at-once --wait 2>&1)
check "a manifest no host can fetch fails preflight" has "$out" "preflight failed on 4 of 4 host"
check "... and changes nothing" on 6.0.0 1 2 3 4

# ---- history and audit ----
check "history lists the deployments newest first" \
	eq "$(RW history demo --json | jq -r '[.deployments[].state] | join(",")')" \
	"failed,rolled_back,failed,rolled_back,succeeded,rolled_back,rolled_back,succeeded,succeeded"
check "every end is in the audit log" \
	test "$(sqlite3 "$D/state.db" "SELECT count(*) FROM audit WHERE action IN ('deploy.succeeded', 'deploy.rolled_back')")" -ge 6

for v in 10.0.0 11.0.0 12.0.0 13.0.0; do
	release $v "$D/release.key" || { echo "not ok - release $v"; exit 1; }
done

# ---- a failure within the budget, then a bake ----
# Host 2 fails 10.0.0's health check (its agent rolls back on its own); the
# budget allows one failed host, so the bake of wave 1 goes on without it.
sed -i "s|^Exec=.*|Exec=/bin/sh -c '! grep -qx 10.0.0 $D/agent2/srv/demo/current/VERSION'|" "$D/agent2/apps/demo.conf"
out=$(RWT deploy demo 10.0.0 --manifest "$(manifest 10.0.0)" --strategy rolling --batch 2 --bake 3s \
	--failure-budget 1 $FAST --wait 2>&1)
check "one host failing within FailureBudget=1, then a 3 s bake: exit 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep10=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... succeeded with 1 failed host" eq "$(field "$dep10" '.state + " " + (.failed | tostring)')" "succeeded 1"
check "... hosts 1, 3 and 4 run 10.0.0" on 10.0.0 1 3 4
check "... host 2 stays on 6.0.0" on 6.0.0 2

# ---- a rollback queued for a host that is down survives a coordinator restart ----
out=$(RWT deploy demo 11.0.0 --manifest "$(manifest 11.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "11.0.0 everywhere" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
kill -9 "${apid[4]}"
wait "${apid[4]}" 2>/dev/null
host4_down() { [ "$(RW host "${hid[4]}" --json | jq -r .state)" = down ]; }
check "host 4's agent is killed: it goes down" wait_for 30 host4_down
out=$(RWT rollback demo --wait 2>&1)
check "rollwave rollback with host 4 down ends (exit 0)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... hosts 1 and 3 back on 10.0.0, host 2 on 6.0.0" bash -c "[ \"\$(readlink $D/agent1/srv/demo/current)\$(readlink $D/agent3/srv/demo/current)\$(readlink $D/agent2/srv/demo/current)\" = releases/10.0.0releases/10.0.0releases/6.0.0 ]"
check "... host 4's rollback waits in its queue" has "$(field "$(RW history demo --json | jq -r '.deployments[0].deployment_id')" .reason)" "queued"
kill -9 "$cpid"
wait "$cpid" 2>/dev/null
start_coordinator
"$AGENT" --config "$D/agent4/agent.conf" run >>"$D/agent4.log" 2>&1 &
apid[4]=$!
back4() { on 10.0.0 4; }
check "after a coordinator restart, host 4 comes back and rolls back to 10.0.0 (not to 11.0.0)" wait_for 60 back4
rb4_committed() { [ "$(sqlite3 "$D/state.db" "SELECT state FROM tasks WHERE host_id = ${hid[4]} AND kind = 'rollback' ORDER BY command_id DESC LIMIT 1")" = committed ]; }
check "... its rollback task ends committed" wait_for 30 rb4_committed

# ---- a paused bake does not count the pause ----
up4() { [ "$(RW host "${hid[4]}" --json | jq -r .state)" = up ]; }
check "host 4 is up again" wait_for 30 up4
out=$(RWT deploy demo 12.0.0 --manifest "$(manifest 12.0.0)" --strategy rolling --batch 2 --bake 6s $FAST --json)
dep12=$(jq -r .deployment_id <<<"$out")
baking12() { [ "$(field "$dep12" '.step + " " + (.wave | tostring)')" = "bake 1" ]; }
check "12.0.0 bakes wave 1" wait_for 60 baking12
RW pause "$dep12" >/dev/null
sleep 8
RW resume "$dep12" >/dev/null
sleep 1
check "resumed after 8 s paused, the 6 s bake still has time to run" eq "$(field "$dep12" '.step + " " + (.wave | tostring)')" "bake 1"
check "... then it succeeds" eq "$(RWT watch "$dep12" </dev/null >/dev/null; echo $?)" 0

# ---- rollback --to a release no host has fails; asking again retries ----
out=$(RWT deploy demo 13.0.0 --manifest "$(manifest 13.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "13.0.0 everywhere" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep13=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
out=$(RWT rollback demo --to 0.0.1 --wait 2>&1)
check "rollback --to 0.0.1 (on no host's disk) fails (exit 1)" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
check "... the deployment says failed" eq "$(field "$dep13" .state)" failed
check "... every host still runs 13.0.0" on 13.0.0 1 2 3 4
out=$(RWT rollback demo --wait 2>&1)
check "rollwave rollback again retries the failed hosts (exit 0)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host is back on 12.0.0" on 12.0.0 1 2 3 4
check "... rolled_back" eq "$(field "$dep13" .state)" rolled_back

# ---- what a failing hook printed reaches rollwave status ----
mkdir -p "$D/tree-14.0.0/.rollwave/hooks"
printf '#!/bin/sh\necho "checking the schema of $ROLLWAVE_VERSION"\necho "ERROR: schema lock held by pid 4242" >&2\nexit 1\n' \
	>"$D/tree-14.0.0/.rollwave/hooks/before_activate"
chmod +x "$D/tree-14.0.0/.rollwave/hooks/before_activate"
release 14.0.0 "$D/release.key" || { echo "not ok - release 14.0.0"; exit 1; }
out=$(RWT deploy demo 14.0.0 --manifest "$(manifest 14.0.0)" --strategy rolling --batch 2 $FAST --wait 2>&1)
check "14.0.0, whose before_activate hook fails, exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep14=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
out=$(RW status "$dep14")
check "... rollwave status shows what the hook printed" has "$out" "Hook output of failed hosts"
check "... both lines of it" has "$out" "\| ERROR: schema lock held by pid 4242"
check "... and --json has it per host" has "$(field "$dep14" '.waves[0].hosts[0].hook_output')" "checking the schema of 14.0.0"
check "... no host left 12.0.0" on 12.0.0 1 2 3 4

# ---- a host that is down holds no slot of MaxUnavailable ----
release 15.0.0 "$D/release.key" || { echo "not ok - release 15.0.0"; exit 1; }
kill -9 "${apid[3]}"
wait "${apid[3]}" 2>/dev/null
host3_down() { [ "$(RW host "${hid[3]}" --json | jq -r .state)" = down ]; }
check "host 3's agent is killed: it goes down" wait_for 30 host3_down
out=$(RWT deploy demo 15.0.0 --manifest "$(manifest 15.0.0)" --strategy rolling --batch 4 --max-unavailable 1 \
	--failure-budget 1 --force $FAST --wait 2>&1)
check "one wave of 4, one host at a time, host 3 down, --force: exit 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep15=$(RW history demo --json | jq -r '.deployments[0].deployment_id')
check "... hosts 1, 2 and 4 run 15.0.0" on 15.0.0 1 2 4
check "... host 3 counts as the one failed host" eq "$(field "$dep15" '.failed')" 1
check "the coordinator never crashed" bash -c "! grep -qi 'sanitizer\|segfault' '$D/coordinator.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
