# fleet.sh — a rollwave fleet on one machine (bash library; source it after
# testhost.sh and sample-host.sh): the real coordinator on the machine, N
# test hosts with real systemd, each running rollwave-agent as the systemd
# unit of packaging/systemd (ExecStart pointed at the build) and the sample
# app as sample.service.
#
#   source tests/harness/testhost.sh
#   source tests/harness/sample-host.sh
#   source tests/harness/fleet.sh
#   th_install_traps                   # hosts torn down on exit
#   fleet_init WORK                    # net id, release key, coordinator config, init
#   fleet_host h1 "ring=0 datacenter=dc1 color=blue"   # boot, configure, start agent
#   fleet_coordinator_start            # serves on tls+tcp://coordinator.rollwave.test
#   fleet_accept 6                     # waits for 6 pending hosts, accepts them, waits up
#   fleet_release 2.0.0 [MODE] [HOOK...]   # signed release of the sample app
#   rwc deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" ...
#   fleet_current h1                   # the release current points to on h1
#   fleet_version h1                   # what the sample app answers on /version
#   fleet_link h4 down                 # pulls h4's network cable (up: plugs it in)
#   fleet_stop                         # stops the coordinator (hosts: th_teardown_all)
#
# Hosts reach the coordinator at coordinator.rollwave.test ($TH_GATEWAY,
# 10.231.N.1 on the run's own bridge rwbrN; testhost.sh puts it in every
# host's /etc/hosts), a name the coordinator's certificate holds. fleet_init
# takes the run's net id (th_run_init), so fleets of parallel test runs have
# their own bridge, subnet and ports and never see each other. Releases are
# file:// URLs under WORK, which hosts see (the machine's disk outside /run,
# /tmp, /var/tmp, /srv and /etc/rollwave), so WORK must not be under those.
#
# Environment: BUILD_DIR (the rollwave build), FLEET_PORT (default: the
# run's th_port 0; tests use th_port 1 and up for their other listeners).

FLEET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLEET_SRC=$(cd "$FLEET_DIR/../.." && pwd)

fleet__err() { echo "fleet: $*" >&2; }

# rwc ARGS...: the rollwave CLI against this fleet's coordinator.
rwc() { "$BUILD_DIR/cli/rollwave" --coordinator "ipc://$FLEET_WORK/admin.sock" "$@"; }

fleet_init() {
	FLEET_WORK=$1
	th_run_init || return 1
	FLEET_PORT=${FLEET_PORT:-$(th_port 0)}
	FLEET_COORD_PID=
	export FLEET_WORK FLEET_PORT
	mkdir -p "$FLEET_WORK/rel" || return 1
	"$BUILD_DIR/cli/rollwave" release keygen -W -p "$FLEET_WORK/release.pub" \
		-s "$FLEET_WORK/release.key" >/dev/null || return 1
	cat >"$FLEET_WORK/c.conf" <<EOF
[Coordinator]
Listen=tls+tcp://$TH_GATEWAY:$FLEET_PORT
AdminSocket=ipc://$FLEET_WORK/admin.sock
Database=$FLEET_WORK/state.db
KeyFile=$FLEET_WORK/coordinator.key
JoinTokenFile=$FLEET_WORK/join-token
MetricsListen=
HeartbeatInterval=1s
[TLS]
Certificate=$FLEET_WORK/tls/coordinator.pem
CA=$FLEET_WORK/tls/ca.crt
EOF
	"$BUILD_DIR/coordinator/rollwave-coordinator" --config "$FLEET_WORK/c.conf" init \
		--san coordinator.rollwave.test >/dev/null
}

# Starts (or restarts) the coordinator; the bridge must exist (boot a host
# first). Waits for its admin socket.
fleet_coordinator_start() {
	"$BUILD_DIR/coordinator/rollwave-coordinator" --config "$FLEET_WORK/c.conf" run \
		>>"$FLEET_WORK/coordinator.log" 2>&1 &
	FLEET_COORD_PID=$!
	for _ in $(seq 100); do
		[ -S "$FLEET_WORK/admin.sock" ] && rwc hosts >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fleet__err "the coordinator did not start:"
	tail -5 "$FLEET_WORK/coordinator.log" >&2
	return 1
}

fleet_stop() {
	if [ -n "${FLEET_COORD_PID:-}" ]; then
		kill "$FLEET_COORD_PID" 2>/dev/null
		wait "$FLEET_COORD_PID" 2>/dev/null
		FLEET_COORD_PID=
	fi
}

# fleet_host NAME LABELS: boots NAME, sets up the sample app and the agent
# (labels "k=v k=v"), and starts rollwave-agent.service.
fleet_host() {
	local name=$1 labels=$2
	th_boot "$name" || return 1
	sample_host_setup "$name" "$FLEET_WORK/release.pub" || return 1
	sample_app_conf "$name" MinHealthy=1s Deadline=10s Interval=200ms
	th_put "$name" "$FLEET_WORK/tls/ca.crt" /etc/rollwave/ca.crt || return 1
	th_put "$name" "$FLEET_WORK/join-token" /etc/rollwave/join-token 0600 || return 1
	th_write "$name" /etc/rollwave/agent.conf <<EOF || return 1
[Agent]
StateDirectory=/srv/agent-state
AppsDirectory=/etc/rollwave/apps
TrustedKeys=/etc/rollwave/keys/release.pub
Coordinator=tls+tcp://coordinator.rollwave.test:$FLEET_PORT
Labels=$labels
HeartbeatInterval=1s
HealthWatch=2s
JoinTokenFile=/etc/rollwave/join-token

[TLS]
CA=/etc/rollwave/ca.crt
EOF
	# The packaged unit, run from the build.
	sed "s|^ExecStart=/usr/bin/rollwave-agent|ExecStart=$BUILD_DIR/agent/rollwave-agent|" \
		"$FLEET_SRC/packaging/systemd/rollwave-agent.service" |
		th_write "$name" /run/systemd/system/rollwave-agent.service || return 1
	th_systemctl "$name" daemon-reload && th_systemctl "$name" start rollwave-agent.service
}

fleet__count() { rwc hosts --json 2>/dev/null | jq --arg s "$1" '[.hosts[] | select(.state == $s)] | length'; }

# fleet_accept N: waits (60 s at most) for N pending hosts, accepts them
# all, and waits until N hosts are up.
fleet_accept() {
	local n=$1 deadline=$((SECONDS + 60))
	while [ "$(fleet__count pending)" != "$n" ]; do
		[ $SECONDS -lt $deadline ] || { fleet__err "$(fleet__count pending) of $n hosts pending"; return 1; }
		sleep 0.2
	done
	rwc hosts accept --all-pending >/dev/null || return 1
	while [ "$(fleet__count up)" != "$n" ]; do
		[ $SECONDS -lt $deadline ] || { fleet__err "$(fleet__count up) of $n hosts up"; return 1; }
		sleep 0.2
	done
}

# fleet_release VERSION [MODE] [HOOK...]: the sample app's release VERSION
# (tests/sample-app/make-release.sh MODEs and hooks), signed.
fleet_release() {
	local version=$1 tarball
	shift
	tarball=$(BUILD_DIR=$BUILD_DIR "$FLEET_SRC/tests/sample-app/make-release.sh" \
		"$FLEET_WORK/rel" "$version" "$@") || return 1
	"$BUILD_DIR/cli/rollwave" release create --app sample --version "$version" \
		--artifact "$tarball" -s "$FLEET_WORK/release.key" \
		--output "$FLEET_WORK/rel/sample-$version.manifest" >/dev/null
}

fleet_manifest() { echo "file://$FLEET_WORK/rel/sample-$1.manifest"; }
fleet_current() { th_exec "$1" readlink /srv/sample/current 2>/dev/null | sed 's|^releases/||'; }
fleet_version() { curl -s --max-time 2 "http://$(th_ip "$1"):8080/version"; }
# fleet_link NAME up|down: plugs NAME's network cable in or pulls it (its
# veth on the bridge).
fleet_link() {
	local veth
	veth=$(th_veth "$1") || return 1
	ip link set "$veth" "$2"
}
fleet_host_id() { rwc hosts --json | jq -r --arg n "$1" '.hosts[] | select(.hostname == $n) | .id'; }

# ---- checks shared by the fleet tests (they use checks.sh's eq) ----
# on VERSION HOST...: current is releases/VERSION and the service says VERSION
on() {
	local v=$1 h
	shift
	for h in "$@"; do
		eq "$(fleet_current "$h")" "$v" || { echo "  ($h current)" >&2; return 1; }
		eq "$(fleet_version "$h")" "$v" || { echo "  ($h /version)" >&2; return 1; }
	done
}
# never_had VERSION HOST...: no release dir of VERSION
never_had() {
	local v=$1 h
	shift
	for h in "$@"; do
		th_exec "$h" test ! -e "/srv/sample/releases/$v" || { echo "  $h has $v" >&2; return 1; }
	done
}
field() { rwc status "$1" --json | jq -r "$2"; } # field ID JQ: of rollwave status ID
latest() { rwc history sample --json | jq -r '.deployments[0].deployment_id'; }
# audit ACTION ID: the details of ACTION on deployment ID in the audit log
audit() { sqlite3 "$FLEET_WORK/state.db" "SELECT group_concat(detail, ' | ') FROM audit WHERE action = '$1' AND target = 'deployment:$2'"; }
ended() { case "$(field "$1" .state)" in succeeded | failed | rolled_back | aborted) return 0 ;; esac; return 1; }
