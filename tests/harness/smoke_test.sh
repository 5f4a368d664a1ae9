#!/bin/bash
# smoke_test.sh — proves the test-host harness and the sample app work:
# two real systemd hosts with their own /srv and network, nothing but
# journald and D-Bus running, the sample app deployed by hand and reached
# over the bridge, busctl inside, and a clean machine afterwards (its /tmp
# untouched, no netns, veth, bridge or cgroup of the run left).
#
#   tests/harness/smoke_test.sh            (as root; BUILD_DIR optional)
#
# BUILD_DIR: a rollwave build dir holding tests/sample-app/rollwave-sample;
# without it the sample app is built on its own into the run dir.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
source "$here/testhost.sh"

passed=0
failed=0
check() { # check DESCRIPTION CMD... — run CMD, count and print the verdict
	local what=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok   - $what"
	else
		failed=$((failed + 1))
		echo "FAIL - $what"
	fi
}
eq() { # eq EXPECTED ACTUAL
	[ "$1" = "$2" ] && return 0
	echo "     expected '$1', got '$2'" >&2
	return 1
}

[ "$(id -u)" = 0 ] || { echo "smoke_test: must run as root" >&2; exit 2; }

marker=$(mktemp /tmp/rwt-smoke-marker.XXXXXX)
echo "keep me" >"$marker"

own_run_dir=
if [ -z "${TH_RUN_DIR:-}" ]; then
	TH_RUN_DIR=$(mktemp -d /var/tmp/rwt-smoke.XXXXXX)
	own_run_dir=$TH_RUN_DIR
fi
export TH_RUN_DIR
export TH_SRV_SIZE=64m
th_install_traps
echo "# run dir $TH_RUN_DIR"

# --- the sample app and two releases of it -----------------------------------
if [ -n "${BUILD_DIR:-}" ] && [ -x "$BUILD_DIR/tests/sample-app/rollwave-sample" ]; then
	sample_build=$BUILD_DIR
else
	sample_build=$TH_RUN_DIR/sample-build
	cmake -S "$src/tests/sample-app" -B "$sample_build" >"$TH_RUN_DIR/cmake.log" 2>&1 &&
		cmake --build "$sample_build" >>"$TH_RUN_DIR/cmake.log" 2>&1 ||
		{ cat "$TH_RUN_DIR/cmake.log"; echo "smoke_test: cannot build the sample app" >&2; exit 1; }
fi
releases=$TH_RUN_DIR/releases
check "make-release.sh packs 1.0.0" env BUILD_DIR="$sample_build" \
	"$src/tests/sample-app/make-release.sh" "$releases" 1.0.0 >/dev/null
check "make-release.sh packs 2.0.0" env BUILD_DIR="$sample_build" \
	"$src/tests/sample-app/make-release.sh" "$releases" 2.0.0 >/dev/null

# --- boot ---------------------------------------------------------------------
check "boot host smoke1" th_boot smoke1
check "boot host smoke2" th_boot smoke2
check "a second host named smoke1 is refused" eval '! th_boot smoke1 2>/dev/null'
cat "$TH_RUN_DIR"/hosts/*/booted | sed 's/^/# booted: /'

check "machine's /tmp marker intact while hosts run" eq "keep me" "$(cat "$marker" 2>/dev/null)"
for h in smoke1 smoke2; do
	check "$h's eth0 has th_ip $(th_ip "$h")" eq "$(th_ip "$h")/24" \
		"$(th_exec "$h" ip -4 -br addr show eth0 | awk '{ print $3 }')"
done
check "the hosts' addresses differ" eval '[ "$(th_ip smoke1)" != "$(th_ip smoke2)" ]' 
check "systemd is PID 1 inside the host" eq systemd "$(th_exec smoke1 cat /proc/1/comm)"

# --- private /srv, /etc/rollwave, /tmp ----------------------------------------
for h in smoke1 smoke2; do
	echo "$h" | th_write "$h" /srv/whoami
	echo "$h" | th_write "$h" /etc/rollwave/whoami
done
check "smoke1 has its own /srv" eq smoke1 "$(th_exec smoke1 cat /srv/whoami)"
check "smoke2 has its own /srv" eq smoke2 "$(th_exec smoke2 cat /srv/whoami)"
check "smoke2 has its own /etc/rollwave" eq smoke2 "$(th_exec smoke2 cat /etc/rollwave/whoami)"
check "the machine's /srv is untouched" test ! -e /srv/whoami
check "/srv is a tmpfs of TH_SRV_SIZE" eq 64M "$(th_exec smoke1 df -h --output=size /srv | tail -1 | tr -d ' ')"
dd_out=$(th_exec smoke1 dd if=/dev/zero of=/srv/fill bs=1M count=80 2>&1)
check "a full /srv says ENOSPC" eval '[[ $dd_out == *"No space left on device"* ]]'
th_exec smoke1 rm -f /srv/fill
check "the host's /tmp is private" eval "! th_exec smoke1 test -e '$marker'"

# --- only journald and D-Bus ------------------------------------------------------
for h in smoke1 smoke2; do
	running=$(th_systemctl "$h" list-units --type=service --state=running --plain --no-legend |
		awk '{ print $1 }' | grep -vx dbus.service | sort | tr '\n' ' ')
	check "$h runs only journald (and D-Bus)" eq "systemd-journald.service " "$running"
	procs=$(th_exec "$h" ps -e -o comm= | grep -vxE 'ps|systemd|systemd-journal|dbus-daemon' | tr '\n' ' ')
	check "$h has no other processes" eq "" "$procs"
	check "$h has no failed units" eq 0 "$(th_systemctl "$h" list-units --failed --plain --no-legend | wc -l)"
	check "$h is running" eq running "$(th_systemctl "$h" is-system-running)"
done
check "dbus.socket is listening in smoke1" eq active "$(th_systemctl smoke1 is-active dbus.socket)"

# --- busctl inside --------------------------------------------------------------------
check "busctl talks to the host's systemd" eval \
	'th_exec smoke1 busctl --no-pager get-property org.freedesktop.systemd1 \
		/org/freedesktop/systemd1 org.freedesktop.systemd1.Manager Version | grep -q "^s \"252"'
check "busctl connects to /run/dbus/system_bus_socket" eval \
	'th_exec smoke2 busctl --no-pager status | grep -qx "BusAddress=unix:path=/run/dbus/system_bus_socket"'

# --- the sample app, deployed by hand -----------------------------------------------
deploy() { # deploy HOST VERSION — unpack, link current, write the unit, start
	local h=$1 v=$2
	th_exec "$h" mkdir -p "/srv/sample/releases/$v" &&
		th_exec "$h" tar -xzf - -C "/srv/sample/releases/$v" <"$releases/sample-$v.tar.gz" &&
		th_exec "$h" ln -sfn "releases/$v" /srv/sample/current &&
		th_write "$h" /run/systemd/system/rollwave-sample.service <<-EOF &&
			[Unit]
			Description=rollwave sample app
			[Service]
			ExecStart=/srv/sample/current/bin/rollwave-sample --port 8080 --release-dir /srv/sample/current
			Restart=no
		EOF
		th_systemctl "$h" daemon-reload &&
		th_systemctl "$h" start rollwave-sample.service
}
wait_http() { # wait_http URL — until it answers (5 s)
	local i
	for i in $(seq 1 50); do
		curl -sf -m 1 "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
check "deploy 1.0.0 on smoke1" deploy smoke1 1.0.0
check "the unit exists on smoke1 only" eval '! th_systemctl smoke2 cat rollwave-sample.service >/dev/null 2>&1'
check "smoke2 does not run the sample app" eval '! th_exec smoke2 curl -sf -m 1 http://127.0.0.1:8080/version'
check "deploy 2.0.0 on smoke2" deploy smoke2 2.0.0
ip1=$(th_ip smoke1)
ip2=$(th_ip smoke2)
wait_http "http://$ip1:8080/health"
wait_http "http://$ip2:8080/health"
check "rollwave-sample active on smoke1" eq active "$(th_systemctl smoke1 is-active rollwave-sample.service)"
check "machine -> smoke1 /version" eq 1.0.0 "$(curl -s -m 3 "http://$ip1:8080/version")"
check "machine -> smoke2 /version" eq 2.0.0 "$(curl -s -m 3 "http://$ip2:8080/version")"
check "machine -> smoke1 /health" eq ok "$(curl -s -m 3 "http://$ip1:8080/health")"
check "smoke1 -> smoke2 /version" eq 2.0.0 "$(th_exec smoke1 curl -s -m 3 "http://$ip2:8080/version")"
check "smoke2 -> smoke1 /version" eq 1.0.0 "$(th_exec smoke2 curl -s -m 3 "http://$ip1:8080/version")"
check "smoke1 -> itself over loopback" eq 1.0.0 "$(th_exec smoke1 curl -s -m 3 http://127.0.0.1:8080/version)"
check "the machine's loopback does not reach the hosts" eval '! curl -sf -m 1 http://127.0.0.1:8080/version >/dev/null'
check "busctl reads the unit's state" eval \
	'th_exec smoke1 busctl --no-pager get-property org.freedesktop.systemd1 \
		/org/freedesktop/systemd1/unit/rollwave_2dsample_2eservice \
		org.freedesktop.systemd1.Unit ActiveState | grep -qx "s \"active\""'
check "the app logs to the host's journal" eval \
	'th_exec smoke1 journalctl -u rollwave-sample --no-pager | grep -q "listening on port 8080"'

# --- resources -------------------------------------------------------------------
for h in smoke1 smoke2; do
	rss=$(ps -o rss= -p "$(ip netns pids "$(th_netns $h)" | tr '\n' ',' | sed 's/,$//')" | awk '{ s += $1 } END { print int(s / 1024) }')
	echo "# $h: $(ip netns pids "$(th_netns $h)" | wc -l) processes, ${rss} MiB RSS"
done

# --- kill and teardown -------------------------------------------------------------
pid1=$(th_pid smoke1)
check "th_kill smoke1" th_kill smoke1
sleep 0.5
check "smoke1's systemd is gone" eval "! kill -0 $pid1 2>/dev/null"
check "smoke1 no longer answers" eval "! curl -sf -m 1 http://$ip1:8080/version >/dev/null"
check "smoke2 still answers" eq 2.0.0 "$(curl -s -m 3 "http://$ip2:8080/version")"

pid2=$(th_pid smoke2)
th_teardown_all
check "th_teardown_all is idempotent" th_teardown_all
check "smoke2's systemd is gone" eval "! kill -0 $pid2 2>/dev/null"
check "the machine's /tmp marker survived" eq "keep me" "$(cat "$marker" 2>/dev/null)"
check "no netns of the run left" eq "" "$(ip netns list | grep -E "^${TH_NS_PREFIX}(smoke1|smoke2)\b")"
check "no veth of ours left" eq "" "$(ip -br link | grep -E "^$TH_VETH_PREFIX(${ip1##*.}|${ip2##*.})@")"
# The bridge is the run's own (other runs have theirs): it must be gone.
check "no bridge $TH_BRIDGE left" eval '! ip link show "$TH_BRIDGE" >/dev/null 2>&1'
check "the net id $TH_NET_ID is given back" eval '[ ! -e "$TH_ID_DIR/$TH_NET_ID" ]'
check "no cgroup of the run left" eq "" "$(ls -d /sys/fs/cgroup/*/${TH_NS_PREFIX}smoke* /sys/fs/cgroup/${TH_NS_PREFIX}smoke* 2>/dev/null)"
check "no host mounts leaked into the machine" eq "" "$(grep -E ' /(srv|etc/rollwave) ' /proc/self/mountinfo)"
rm -f "$marker"

echo "$passed passed, $failed failed"
if [ "$failed" != 0 ]; then
	echo "# consoles and logs kept in $TH_RUN_DIR"
	exit 1
fi
[ -n "$own_run_dir" ] && rm -rf "$own_run_dir"
exit 0
