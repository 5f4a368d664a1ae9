#!/bin/bash
# The fleet harness at its largest: 20 test hosts with real systemd (the
# packaged agent unit, the sample app), two datacenters and three rings,
# enrol with the coordinator; 2.0.0 rolls over them in batches of 25 %,
# every host serves it; then everything is torn down and no namespace,
# bridge or mount of the run is left (a second run can start at once).
#
#   tests/integration/test_fleet_twenty.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
export BUILD_DIR
SRC=$(cd "$(dirname "$0")/../.." && pwd)
N=20
W=$(mktemp -d "$BUILD_DIR/rw-fleet-twenty.XXXXXX")
passed=0
failed=0
source "$(dirname "$0")/../harness/checks.sh"
# The run's net id is taken here, so that its names (rwtN-, rwvN-, rwbrN)
# can be checked after the fleet shell tore everything down.
source "$SRC/tests/harness/runid.sh"
th_run_init || exit 1

# The fleet runs in a child shell so that its teardown (on that shell's
# exit) can be checked from here.
(
	source "$SRC/tests/harness/testhost.sh"
	source "$SRC/tests/harness/sample-host.sh"
	source "$SRC/tests/harness/fleet.sh"
	trap 'fleet_stop; th_teardown_all' EXIT
	trap 'exit 130' INT TERM
	fleet_init "$W" || exit 1
	for i in $(seq $N); do
		fleet_host "h$i" "datacenter=dc$((i % 2 + 1)) ring=$((i % 3))" || { echo "  host h$i failed" >&2; exit 1; }
	done
	fleet_coordinator_start || exit 1
	fleet_accept $N || exit 1
	echo "up $(rwc hosts --json | jq '[.hosts[] | select(.state == "up")] | length')"
	fleet_release 1.0.0 && fleet_release 2.0.0 || exit 1
	rwc deploy sample 1.0.0 --manifest "$(fleet_manifest 1.0.0)" --strategy all-at-once \
		--min-healthy 2s --wait >/dev/null || exit 1
	rwc deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --strategy rolling \
		--batch 25% --min-healthy 2s --wait >/dev/null
	echo "deploy $?"
	echo "waves $(rwc status --app sample --json | jq -r '[.waves[] | .hosts | length] | map(tostring) | join(",")')"
	for i in $(seq $N); do printf '%s:%s ' "h$i" "$(fleet_version "h$i")"; done
	echo
	echo "dirs $TH_RUN_DIR"
) >"$W/run.log" 2>&1
rc=$?
sed 's/^/#   /' "$W/run.log"
check "$N hosts booted, enrolled and up" eq "$(sed -n 's/^up //p' "$W/run.log")" $N
check "2.0.0 rolled over them in batches of 25 % (exit 0)" eq "$(sed -n 's/^deploy //p' "$W/run.log")" 0
check "... four waves of five" eq "$(sed -n 's/^waves //p' "$W/run.log")" "5,5,5,5"
served=$(grep -o 'h[0-9]*:2\.0\.0' "$W/run.log" | wc -l)
check "... every host serves 2.0.0" eq "$served" $N
check "the fleet shell ended cleanly" eq "$rc" 0
check "torn down: no network namespace of the run is left" eq "$(ip netns list | grep -c "^${TH_NS_PREFIX}h")" 0
check "... no veth of the run" eq "$(ip -o link show | grep -c ": $TH_VETH_PREFIX")" 0
check "... no bridge of the run" eq "$(ip -o link show | grep -c ": $TH_BRIDGE[:@]")" 0
check "... no host mount left" eq "$(grep -c "$(sed -n 's/^dirs //p' "$W/run.log")" /proc/mounts)" 0
[ "$failed" -eq 0 ] && rm -rf "$W" || echo "# work files kept in $W"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
