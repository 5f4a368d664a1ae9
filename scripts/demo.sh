#!/bin/bash
# demo.sh — set up a fresh Debian 12 machine, build rollwave, and watch a
# small fleet deploy for real: the coordinator on this machine and six test
# hosts in two datacenters, each booting real systemd as PID 1 in its own
# namespaces and running rollwave-agent as its packaged systemd unit. A good
# release rolls out ring by ring across the datacenters; a sick one is caught
# on its canary and rolled back automatically. Needs root. Tears everything
# down at the end (also on failure or Ctrl-C).
set -uo pipefail
# Not -e: the harness functions test things that may fail; failures that
# matter are checked explicitly below.
die() { echo "demo: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
SRC=$(pwd)
# Test hosts have their own /tmp, /var/tmp, /run and /srv: a checkout there
# is invisible inside them.
case $SRC/ in
/tmp/* | /var/tmp/* | /run/* | /srv/*)
	echo "$0: the checkout is under /tmp, /var/tmp, /run or /srv, which test hosts do not see; clone it elsewhere (e.g. /root)" >&2
	exit 1
	;;
esac
if [ "${ROLLWAVE_SKIP_DEPS:-0}" != 1 ]; then
	scripts/install-deps.sh || die "installing dependencies failed"
fi
BUILD_DIR=$SRC/build
export BUILD_DIR
echo "building rollwave (build/) ..."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake failed"
ninja -C build rollwave rollwave-agent rollwave-agentd rollwave-coordinator rollwave-sample \
	>/dev/null || die "build failed"

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

source tests/harness/testhost.sh
source tests/harness/sample-host.sh
source tests/harness/fleet.sh
tests/harness/cleanup-leftovers.sh
WORK=$(mktemp -d "$BUILD_DIR/demo.XXXXXX")
trap 'fleet_stop; th_teardown_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# What an admin types, against this fleet's coordinator.
rollwave() { "$BUILD_DIR/cli/rollwave" --coordinator "ipc://$WORK/admin.sock" "$@"; }
run() { printf '%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }
serving() {
	local h
	for h in h1 h2 h3 h4 h5 h6; do printf '  %s:%s' "$h" "$(fleet_version $h)"; done
	echo
}

say "A coordinator and six hosts: dc1 (h1-h3) and dc2 (h4-h6), each with real systemd"
fleet_init "$WORK" || die "setting up the coordinator failed"
declare -A labels=(
	[h1]="datacenter=dc1 ring=0" [h2]="datacenter=dc1 ring=1" [h3]="datacenter=dc1 ring=1"
	[h4]="datacenter=dc2 ring=1" [h5]="datacenter=dc2 ring=2" [h6]="datacenter=dc2 ring=2")
for h in h1 h2 h3 h4 h5 h6; do
	fleet_host $h "${labels[$h]}" || die "booting host $h failed"
	echo "    $h booted at $(th_ip $h): systemd, rollwave-agent.service, labels ${labels[$h]}"
done
fleet_coordinator_start || die "the coordinator did not start"
echo "    the coordinator serves tls+tcp://coordinator.rollwave.test:$FLEET_PORT"
say "The agents enrolled with the join token; an admin accepts them"
fleet_accept 6 || die "the hosts did not come up"
run rollwave hosts

say "Signed releases of a small HTTP service: 1.0.0 and 2.0.0 are good, 3.0.0 crashes at start"
for v in 1.0.0 2.0.0; do fleet_release $v || die "making release $v failed"; done
fleet_release 3.0.0 fail-on-start || die "making release 3.0.0 failed"
ls -1 "$WORK/rel" | sed 's/^/    /'
rollwave deploy sample 1.0.0 --manifest "$(fleet_manifest 1.0.0)" --strategy all-at-once \
	--min-healthy 2s --wait >/dev/null || die "the first install failed"
echo "    1.0.0 is installed everywhere; the services answer:"
serving

say "2.0.0, ring by ring across the datacenters: dc1 first, then dc2"
run rollwave plan sample 2.0.0 --strategy ring \
	--datacenters dc1,dc2 --min-healthy 3s --bake 5s
out=$(rollwave deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --strategy ring \
	--datacenters dc1,dc2 --min-healthy 3s --bake 5s --json) || die "deploy 2.0.0 refused: $out"
dep=$(jq -r .deployment_id <<<"$out")
run rollwave watch "$dep"
echo "    the services answer:"
serving

say "3.0.0 as a canary on h1 (ring 0): it crashes, the wave fails, the canary is rolled back"
out=$(rollwave deploy sample 3.0.0 --manifest "$(fleet_manifest 3.0.0)" --strategy canary \
	--canary ring=0 --steps 50%,100% --min-healthy 3s --json) || die "deploy 3.0.0 refused: $out"
dep=$(jq -r .deployment_id <<<"$out")
run rollwave watch "$dep"
echo "    (exit status $?: the deployment did not succeed) the services answer:"
serving
run rollwave status "$dep"

say "What runs where, and what happened"
run rollwave hosts
run rollwave history sample

say "What you just saw"
cat <<EOF
  - A coordinator and six hosts, each its own network namespace with real
    systemd as PID 1, rollwave-agent running there as its systemd unit. The
    agents enrolled over TLS with a join token and were accepted by an admin.
  - 2.0.0 went out in rings by datacenter: dc1, then dc2, each wave gated on
    every host being healthy for a while and a bake time.
  - 3.0.0 crashed on its canary (h1): the agent swapped h1 back on its own,
    the coordinator saw the canary wave fail and rolled the deployment back;
    h2-h6 never downloaded 3.0.0.
  - Every step is in the coordinator's SQLite database and audit log.
Commands to try next (scripts/test.sh runs the whole test suite):
  $BUILD_DIR/cli/rollwave help
  $BUILD_DIR/cli/rollwave plan APP VERSION --strategy canary --canary 1 --steps 10%,50%,100%
  tests/integration/test_fleet_waves.sh build     rolling, canary, ring, approvals, metric gates
  tests/integration/test_fleet_faults.sh build    blue-green, late failures, network cuts, killed agents
Tearing the fleet down.
EOF
