#!/bin/bash
# Deployments through waves on a fleet of six test hosts with real systemd
# (tests/harness/fleet.sh): rollwave-agent runs as the packaged systemd unit
# on every host, the sample app as sample.service, the coordinator on the
# machine. Labels: datacenter dc1 (h1-h3) / dc2 (h4-h6), rings 0 (h1), 1
# (h2, h4), 2 (h3, h5, h6). Each scenario asserts every host's current
# release, what its service answers on /version, and the coordinator's
# state:
#   - canary of a good release (2.0.0) finishes;
#   - a release failing at start (3.0.0) is rolled back on the canary only;
#   - a ring deployment (4.0.0) waits at its approval gate until approved;
#   - a failure budget breached in wave 2 (5.0.0: its validate hook fails on
#     h3 and h4) rolls waves 1 and 2 back;
#   - the coordinator SIGKILLed mid-deployment (6.0.0) resumes after restart;
#   - a metric gate against a server speaking Prometheus' query API
#     (tests/harness/fake_prometheus.py) holds on no data, then fails
#     (7.0.0 rolled back everywhere) and passes (8.0.0).
#
#   tests/integration/test_fleet_waves.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
export BUILD_DIR
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/harness/testhost.sh"
source "$SRC/tests/harness/sample-host.sh"
source "$SRC/tests/harness/fleet.sh"
W=$(mktemp -d "$BUILD_DIR/rw-fleet-waves.XXXXXX")
passed=0
failed=0
prom_pid=
cleanup() {
	[ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null
	fleet_stop
	th_teardown_all
	if [ "$failed" -eq 0 ]; then rm -rf "$W" "$TH_RUN_DIR"; else echo "# work files kept in $W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$(dirname "$0")/../harness/checks.sh"
WAIT_STEP=0.3
RWT() { timeout 180 "$BUILD_DIR/cli/rollwave" --coordinator "ipc://$W/admin.sock" "$@"; }
# on VERSION HOST...: current is releases/VERSION and the service says VERSION.

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
check "each reports its own hostname" eq "$(rwc hosts --json | jq -r '[.hosts[].hostname] | sort | join(" ")')" "$ALL"

cat >"$W/fail-on-h3-h4.sh" <<'EOF'
#!/bin/sh
# validate hook: this release is sick on h3 and h4 only.
case "$(hostname)" in h3 | h4) echo "sick on $(hostname)"; exit 1 ;; esac
exit 0
EOF
chmod +x "$W/fail-on-h3-h4.sh"
for v in 1.0.0 2.0.0 4.0.0 6.0.0 7.0.0 8.0.0; do fleet_release $v || { echo "not ok - release $v"; exit 1; }; done
fleet_release 3.0.0 fail-on-start || { echo "not ok - release 3.0.0"; exit 1; }
fleet_release 5.0.0 - "validate=$W/fail-on-h3-h4.sh" || { echo "not ok - release 5.0.0"; exit 1; }
FAST="--min-healthy 2s --wave-timeout 90s"

out=$(RWT deploy sample 1.0.0 --manifest "$(fleet_manifest 1.0.0)" --strategy all-at-once $FAST --wait 2>&1)
check "1.0.0 all at once" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs and serves 1.0.0" on 1.0.0 $ALL

# ---- canary of a good release ----
out=$(RWT deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --strategy canary --canary ring=0 \
	--steps 50%,100% $FAST --wait 2>&1)
check "canary of 2.0.0 finishes (exit 0)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... canary h1 first, then two steps" eq "$(field "$dep" '[.waves[].name] | join(",")')" "canary,step 50%,step 100%"
check "... the canary wave is h1" eq "$(field "$dep" '.waves[0].hosts[0].hostname')" h1
check "... every host runs and serves 2.0.0" on 2.0.0 $ALL
check "... succeeded" eq "$(field "$dep" .state)" succeeded

# ---- a release that fails at start ----
out=$(RWT deploy sample 3.0.0 --manifest "$(fleet_manifest 3.0.0)" --strategy canary --canary ring=0 \
	$FAST --wait 2>&1)
check "canary of 3.0.0 (fails at start) exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... the canary failed its health check" has "$(field "$dep" '.waves[0].hosts[0].error')" "unhealthy|health"
check "... and runs and serves 2.0.0 again" on 2.0.0 h1
check "... no other host was touched" on 2.0.0 h2 h3 h4 h5 h6
check "... nor has 3.0.0 on disk" never_had 3.0.0 h2 h3 h4 h5 h6
check "... the audit log says why" \
	has "$(sqlite3 "$W/state.db" "SELECT detail FROM audit WHERE action = 'deploy.rolled_back' AND target = 'deployment:$dep'")" "canary"

# ---- ring with an approval gate ----
out=$(RWT deploy sample 4.0.0 --manifest "$(fleet_manifest 4.0.0)" --strategy ring --ring-approval 1 $FAST --json)
dep=$(jq -r .deployment_id <<<"$out")
at_approval() { [ "$(field "$dep" '.step + " " + (.wave | tostring)')" = "approval 2" ]; }
check "ring deployment of 4.0.0 waits at the approval of ring 1" wait_for 90 at_approval
sleep 3
check "... still waiting" at_approval
check "... ring 0 (h1) runs 4.0.0" on 4.0.0 h1
check "... rings 1 and 2 do not" on 2.0.0 h2 h3 h4 h5 h6
check "approve" has "$(rwc approve "$dep")" "is running"
check "... then it succeeds" eq "$(RWT watch "$dep" </dev/null >/dev/null; echo $?)" 0
check "... every host runs and serves 4.0.0" on 4.0.0 $ALL

# ---- failure budget breached in wave 2 ----
out=$(RWT deploy sample 5.0.0 --manifest "$(fleet_manifest 5.0.0)" --strategy rolling --batch 2 \
	--failure-budget 1 $FAST --wait 2>&1)
check "5.0.0 (sick on h3 and h4, budget 1) exits 1" eq "$?" 1 || echo "$out" | sed 's/^/#   /'
dep=$(latest)
check "... waves h1+h2, h3+h4, h5+h6" \
	eq "$(field "$dep" '[.waves[] | [.hosts[].hostname] | join("+")] | join(",")')" "h1+h2,h3+h4,h5+h6"
state_reason=$(field "$dep" '.state + " " + .reason')
check "... rolled_back, the budget breached in wave 2" has "$state_reason" "^rolled_back wave 2 .*FailureBudget=1"
check "... waves 1 and 2 are back on 4.0.0" on 4.0.0 h1 h2 h3 h4
check "... wave 3 was never touched" never_had 5.0.0 h5 h6
check "... and serves 4.0.0" on 4.0.0 h5 h6

# ---- the coordinator killed mid-deployment ----
out=$(RWT deploy sample 6.0.0 --manifest "$(fleet_manifest 6.0.0)" --strategy rolling --batch 2 \
	--bake 4s $FAST --json)
dep=$(jq -r .deployment_id <<<"$out")
in_wave2() { [ "$(field "$dep" .wave)" -ge 2 ]; }
check "6.0.0 reaches wave 2" wait_for 90 in_wave2
kill -9 "$FLEET_COORD_PID"
wait "$FLEET_COORD_PID" 2>/dev/null
FLEET_COORD_PID=
sleep 2
check "the coordinator restarts" fleet_coordinator_start
check "... the deployment resumes and succeeds" eq "$(RWT watch "$dep" </dev/null >/dev/null; echo $?)" 0
check "... every host runs and serves 6.0.0" on 6.0.0 $ALL
check "... no host was deployed twice" \
	eq "$(sqlite3 "$W/state.db" "SELECT max(n) FROM (SELECT count(*) AS n FROM tasks WHERE deployment_id = $dep AND kind = 'deploy' GROUP BY host_id)")" 1
# ---- a metric gate ----
PPORT=$(th_port 1)
echo '{}' >"$W/prom.json"
python3 "$SRC/tests/harness/fake_prometheus.py" "$PPORT" "$W/prom.json" >"$W/prom.log" 2>&1 &
prom_pid=$!
GATE="--prometheus-url http://127.0.0.1:$PPORT --set Gate.errors.Query=rate_5xx --set Gate.errors.Condition=max<0.01 --set Gate.errors.NoData=hold"
out=$(RWT deploy sample 7.0.0 --manifest "$(fleet_manifest 7.0.0)" --strategy rolling --batch 3 $FAST $GATE --json)
dep=$(jq -r .deployment_id <<<"$out")
holding() { [ "$(field "$dep" .step)" = gates ] && has "$(field "$dep" '.waves[0].verdict')" "hold"; }
check "a metric gate with no data holds after wave 1" wait_for 90 holding
wave1_only() { on 7.0.0 h1 h2 h3 && on 6.0.0 h4 h5 h6; }
check "... wave 1 runs 7.0.0, wave 2 does not" wave1_only
echo '{"rate_5xx": [0.002, 0.2]}' >"$W/prom.json"
check "... then fails on data over the threshold: rolled back" eq "$(RWT watch "$dep" </dev/null >/dev/null; echo $?; field "$dep" .state)" "1
rolled_back"
check "... every host runs and serves 6.0.0" on 6.0.0 $ALL
check "... the failing value is in the audit log" \
	has "$(sqlite3 "$W/state.db" "SELECT detail FROM audit WHERE action = 'deploy.gate' AND target = 'deployment:$dep'")" "fail.*0\.2"
echo '{"rate_5xx": [0.001]}' >"$W/prom.json"
out=$(RWT deploy sample 8.0.0 --manifest "$(fleet_manifest 8.0.0)" --strategy rolling --batch 3 $FAST $GATE --wait 2>&1)
check "a passing metric gate lets 8.0.0 through (exit 0)" eq "$?" 0 || echo "$out" | sed 's/^/#   /'
check "... every host runs and serves 8.0.0" on 8.0.0 $ALL
check "no daemon crashed" bash -c "! grep -qi 'sanitizer\|segfault' '$W/coordinator.log'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
