#!/bin/bash
# Blue-green, late failures, failed migrations and faults on a fleet of six
# test hosts with real systemd (tests/harness/fleet.sh): rollwave-agent runs
# as the packaged systemd unit on every host, the sample app as
# sample.service, the coordinator on the machine. Labels as in
# test_fleet_waves.sh: dc1 (h1-h3, blue) / dc2 (h4-h6, green), rings 0 (h1),
# 1 (h2, h4), 2 (h3, h5, h6). Each scenario asserts every host's current
# release, what its service answers on /version, and what the coordinator
# and its audit log say:
#   - blue-green (2.0.0 over 1.0.0): green installs, traffic switches, blue
#     keeps 1.0.0 for switch-back;
#   - a release that fails 20 s after it started (3.0.0) with a ring
#     strategy and a bake: caught in ring 0 by the bake, rings 1-2 untouched;
#   - a release whose migrate hook fails (4.0.0): stopped before any host
#     changes;
#   - a host's network cable pulled during its wave (5.0.0): the wave fails,
#     waves 1-2 roll back, and the host follows once it is back;
#   - an agent SIGKILLed mid-deploy (6.0.0) and restarted by systemd: it
#     recovers, reports what happened, and the deployment ends explained;
#   - a host's release filesystem full (7.0.0, 8 MiB): preflight refuses,
#     and with --force the host fails cleanly (no space) and the rest rolls
#     back; once there is room again, 8.0.0 goes everywhere.
# The coordinator SIGKILLed mid-wave is in test_fleet_waves.sh.
#
#   tests/integration/test_fleet_faults.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
export BUILD_DIR
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/harness/testhost.sh"
source "$SRC/tests/harness/sample-host.sh"
source "$SRC/tests/harness/fleet.sh"
W=$(mktemp -d "$BUILD_DIR/rw-fleet-faults.XXXXXX")
passed=0
failed=0
cleanup() {
	fleet_stop
	th_teardown_all
	if [ "$failed" -eq 0 ] && [ "${ROLLWAVE_KEEP_WORK:-0}" != 1 ]; then rm -rf "$W" "$TH_RUN_DIR"; else echo "# work files kept in $W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$(dirname "$0")/../harness/checks.sh"
WAIT_STEP=0.3
RWT() { timeout 240 "$BUILD_DIR/cli/rollwave" --coordinator "ipc://$W/admin.sock" "$@"; }
host_state() { rwc hosts --json | jq -r --arg n "$1" '.hosts[] | select(.hostname == $n) | .state'; }
is_state() { eq "$(host_state "$1")" "$2"; }

ALL="h1 h2 h3 h4 h5 h6"
fleet_init "$W" || { echo "not ok - fleet_init"; exit 1; }
declare -A labels=(
	[h1]="datacenter=dc1 ring=0 color=blue" [h2]="datacenter=dc1 ring=1 color=blue"
	[h3]="datacenter=dc1 ring=2 color=blue" [h4]="datacenter=dc2 ring=1 color=green"
	[h5]="datacenter=dc2 ring=2 color=green" [h6]="datacenter=dc2 ring=2 color=green")
for h in $ALL; do
	fleet_host "$h" "${labels[$h]}" || { echo "not ok - host $h"; exit 1; }
done
check "the coordinator starts" fleet_coordinator_start
check "six agents, run by systemd, enrol and are accepted" fleet_accept 6

cat >"$W/migrate-fails.sh" <<'EOF'
#!/bin/sh
echo "ALTER TABLE orders ADD COLUMN total: column already exists"
exit 3
EOF
cat >"$W/slow-activate.sh" <<'EOF'
#!/bin/sh
# before_activate hook: long enough to kill the agent in the middle of it.
sleep 8
EOF
chmod +x "$W/migrate-fails.sh" "$W/slow-activate.sh"
for v in 1.0.0 2.0.0 5.0.0 8.0.0; do fleet_release $v || { echo "not ok - release $v"; exit 1; }; done
fleet_release 3.0.0 fail-after=20 || { echo "not ok - release 3.0.0"; exit 1; }
fleet_release 4.0.0 - "migrate=$W/migrate-fails.sh" || { echo "not ok - release 4.0.0"; exit 1; }
fleet_release 6.0.0 - "before_activate=$W/slow-activate.sh" || { echo "not ok - release 6.0.0"; exit 1; }
SAMPLE_PAD_BYTES=$((8 * 1024 * 1024)) fleet_release 7.0.0 || { echo "not ok - release 7.0.0"; exit 1; }
FAST="--min-healthy 2s --wave-timeout 90s"

out=$(RWT deploy sample 1.0.0 --manifest "$(fleet_manifest 1.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "1.0.0 all at once" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs and serves 1.0.0" on 1.0.0 $ALL

# ---- blue-green ----
echo blue >"$W/live"
out=$(RWT deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --strategy blue-green \
	--live-color blue --traffic-command "echo %c >$W/live" $FAST --wait 2>&1)
check "blue-green of 2.0.0 over 1.0.0 exits 0" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... the idle color (green: h4-h6) runs and serves 2.0.0" on 2.0.0 h4 h5 h6
check "... blue keeps 1.0.0 for an instant switch-back" on 1.0.0 h1 h2 h3
check "... traffic switched to green" eq "$(cat "$W/live")" green
check "... the switch is in the audit log" has "$(audit deploy.switch "$dep")" "echo green"
out=$(RWT deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --selector color=blue \
	--strategy all-at-once $FAST --wait 2>&1)
check "then blue follows (--selector color=blue)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs and serves 2.0.0" on 2.0.0 $ALL

# ---- a late failure caught by the bake ----
out=$(RWT deploy sample 3.0.0 --manifest "$(fleet_manifest 3.0.0)" --strategy ring \
	--ring-bake 0:45s $FAST --wait 2>&1)
check "ring deployment of 3.0.0 (sick 20 s after start), bake 45 s in ring 0, exits 1" eq "$?" 1 ||
	echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... the bake caught h1 falling ill" has "$(field "$dep" .reason)" "h1.*became unhealthy during the bake"
check "... h1 runs and serves 2.0.0 again" on 2.0.0 h1
check "... rings 1 and 2 never had 3.0.0" never_had 3.0.0 h2 h3 h4 h5 h6
check "... and serve 2.0.0" on 2.0.0 h2 h3 h4 h5 h6
check "... the audit log says why" has "$(audit deploy.rolled_back "$dep")" "unhealthy during the bake"

# ---- a failing migration ----
out=$(RWT deploy sample 4.0.0 --manifest "$(fleet_manifest 4.0.0)" --strategy rolling --batch 3 \
	$FAST --wait 2>&1)
check "4.0.0 (its migrate hook fails) exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... failed, naming the migration" has "$(field "$dep" '.state + " " + .reason')" "^failed .*migrat"
check "... no host changed: every one runs and serves 2.0.0" on 2.0.0 $ALL
check "... no host was sent a deploy" \
	eq "$(sqlite3 "$W/state.db" "SELECT count(*) FROM tasks WHERE deployment_id = $dep AND kind = 'deploy'")" 0
check "... the hook's words reach the audit log" has "$(sqlite3 "$W/state.db" "SELECT group_concat(detail) FROM audit WHERE target = 'deployment:$dep'")" "column already exists|exit"

# ---- a host's network cut during its wave ----
out=$(RWT deploy sample 5.0.0 --manifest "$(fleet_manifest 5.0.0)" --strategy rolling --batch 2 \
	--bake 3s $FAST --json)
dep=$(jq -r .deployment_id <<<"$out")
in_wave2() { [ "$(field "$dep" .wave)" -ge 2 ]; }
check "5.0.0 reaches wave 2 (h3, h4)" wait_for 90 in_wave2
fleet_link h4 down
check "h4's cable pulled: the coordinator sees it down" wait_for 20 is_state h4 down
check "... the deployment ends without waiting for h4" wait_for 60 ended "$dep"
reason=$(field "$dep" '.state + " " + .reason')
check "... rolled_back, because h4 went silent" has "$reason" "^rolled_back .*h4 \\(silent"
check "... saying h4's rollback waits for it" has "$reason" "h4 gets the rollback queued"
check "... waves 1 and 2 but h4 are back on 2.0.0" on 2.0.0 h1 h2 h3
check "... wave 3 never had 5.0.0" never_had 5.0.0 h5 h6
fleet_link h4 up
check "h4 back on the network: up again" wait_for 30 is_state h4 up
check "... and it ends on 2.0.0 like its wave" wait_for 60 on 2.0.0 h4
check "... every host runs and serves 2.0.0" on 2.0.0 $ALL

# ---- an agent killed mid-deploy ----
out=$(RWT deploy sample 6.0.0 --manifest "$(fleet_manifest 6.0.0)" --strategy all-at-once \
	$FAST --json)
dep=$(jq -r .deployment_id <<<"$out")
in_hook() { th_exec h2 pgrep -f slow-activate.sh >/dev/null || th_exec h2 pgrep -x sleep >/dev/null; }
check "6.0.0: h2 runs its before_activate hook" wait_for 60 in_hook
pid_before=$(th_exec h2 systemctl show -p MainPID --value rollwave-agent.service)
th_exec h2 systemctl kill --kill-whom=main -s KILL rollwave-agent.service
restarted() { local p; p=$(th_exec h2 systemctl show -p MainPID --value rollwave-agent.service); [ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$pid_before" ]; }
check "h2's agent SIGKILLed: systemd restarts it" wait_for 30 restarted
check "... the deployment ends" wait_for 150 ended "$dep"
state=$(field "$dep" .state)
h2_task=$(field "$dep" '[.waves[].hosts[] | select(.hostname == "h2")][0] | .task + " " + .error')
check "... h2's task is explained: it was interrupted" has "$h2_task" "agent stopped during this deploy|committed"
if [ "$state" = succeeded ]; then
	check "... succeeded: every host runs and serves 6.0.0" on 6.0.0 $ALL
else
	check "... rolled back: every host runs and serves 2.0.0" on 2.0.0 $ALL
	check "... rolled_back, naming h2" has "$state $(field "$dep" .reason)" "^rolled_back .*h2"
fi
preflight_ms=$(sqlite3 "$W/state.db" "SELECT max(at_ms) - min(at_ms) FROM audit WHERE target = 'deployment:$dep' AND action IN ('deploy.start', 'deploy.preflight')")
check "... every host, h4 (back from its cut) too, answered the preflight at once" test "$preflight_ms" -lt 10000
check "... h2 has no operation left half done" eq "$(th_exec h2 "$BUILD_DIR/agent/rollwave-agent" status sample --json | jq -r '.apps[0].in_flight // "none"')" none

# ---- a full release filesystem ----
last=$(fleet_current h1)
th_exec h6 sh -c 'fallocate -l $(( $(df --output=avail -B1 /srv | tail -1) - 2*1024*1024 )) /srv/filler'
out=$(RWT deploy sample 7.0.0 --manifest "$(fleet_manifest 7.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "7.0.0 (8 MiB) on a fleet where h6's /srv is full: preflight refuses" eq "$?" 1
check "... naming h6 and the space" has "$out" "h6.*space"
check "... nothing changed" on "$last" $ALL
out=$(RWT deploy sample 7.0.0 --manifest "$(fleet_manifest 7.0.0)" --strategy all-at-once \
	--force $FAST --wait 2>&1)
check "with --force it is tried and exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... h6 failed for want of space" has "$(field "$dep" '[.waves[].hosts[] | select(.hostname == "h6")][0].error')" "[Ss]pace"
check "... rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... every host runs and serves $last" on "$last" $ALL
check "... h6 has no 7.0.0" never_had 7.0.0 h6
check "... nor leftovers of it" eq "$(th_exec h6 ls -A /srv/sample | grep -v '^current$\|^releases$\|^shared$')" ""
check "... h6's agent is up and its state intact" eq "$(th_exec h6 "$BUILD_DIR/agent/rollwave-agent" status sample --json | jq -r '.apps[0].current')" "$last"
th_exec h6 rm -f /srv/filler
out=$(RWT deploy sample 8.0.0 --manifest "$(fleet_manifest 8.0.0)" --strategy rolling --batch 3 $FAST --wait 2>&1)
check "with room again 8.0.0 goes everywhere" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs and serves 8.0.0" on 8.0.0 $ALL
check "no daemon crashed" bash -c "! grep -qi 'sanitizer\|segfault' '$W/coordinator.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
