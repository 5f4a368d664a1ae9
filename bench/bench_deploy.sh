#!/bin/bash
# bench_deploy.sh — wall time of `rollwave-agent deploy` of a ~50 MiB
# release, against the same steps done by hand in the same test host.
#
#   bench/bench_deploy.sh BUILD_DIR
#
# One test host (tests/harness/testhost.sh: real systemd as PID 1, /srv a
# private tmpfs) runs two copies of the sample app: sample.service (port
# 8080) deployed by rollwave-agent from signed manifests, and manual.service
# (port 8081) deployed by hand. Each round, alternating, with a new version:
#   manual:   cp TARBALL /srv (what a file:// fetch does), b2sum it, tar -xzf
#             into /srv/manual/releases/V, ln -sfn current, systemctl restart,
#             poll /health every 100 ms until the first 200;
#   rollwave: rollwave-agent deploy sample --manifest M (fetch + BLAKE2b,
#             signature, secure unpack, atomic swap, restart, health with
#             MinHealthy=1ms, i.e. the first healthy probe, see MIN_HEALTHY
#             below, and Interval=100ms), under GNU time for peak RSS.
# Both are timed inside the host (date before and after), so the cost of
# entering the host is in neither. Prints the median times, the ratio, the
# agent's own per-phase timings, its binary size and its peak RSS. A
# benchmark: it prints figures and never fails on them; it exits non-zero
# only when something could not run. The host is torn down on every exit.
#
# Environment: BENCH_N (rounds, default 3), BENCH_PAYLOAD_MIB (random bytes
# added to each release, default 50), BENCH_MIN_HEALTHY (default 1ms).
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-3}
PAYLOAD_MIB=${BENCH_PAYLOAD_MIB:-50}
# "Healthy at the first 200", like the manual baseline. MinHealthy=0s would
# say so, but the agent takes 0 as "unset" and waits its 10 s default
# (agent/engine/health.c, health_wait); 1ms is the smallest value that counts:
# any probe takes longer, so the first healthy probe completes the streak.
MIN_HEALTHY=${BENCH_MIN_HEALTHY:-1ms}
RW="$BUILD_DIR/cli/rollwave"
AGENT="$BUILD_DIR/agent/rollwave-agent"
GNU_TIME=/usr/bin/time
H=bench1
export BUILD_DIR

die() {
	echo "bench_deploy: $*" >&2
	exit 1
}
for exe in "$RW" "$AGENT" "$BUILD_DIR/tests/sample-app/rollwave-sample"; do
	[ -x "$exe" ] || die "$exe is missing; build first (ninja -C $BUILD_DIR)"
done
for tool in b2sum curl tar nsenter; do
	command -v "$tool" >/dev/null || die "$tool is missing"
done
"$GNU_TIME" -f %M true 2>/dev/null || die "GNU time is missing (Debian package 'time')"
[ "$(id -u)" = 0 ] || die "test hosts need root"

"$SRC_DIR/tests/harness/cleanup-leftovers.sh"
source "$SRC_DIR/tests/harness/testhost.sh"
th_install_traps
# Each host's /srv is a tmpfs: room for two copies of the app, a few
# releases each and the tarballs in flight.
export TH_SRV_SIZE=${TH_SRV_SIZE:-1g}

# Hosts see the machine's disk except /run, /tmp, /var/tmp, /srv, /etc/rollwave.
mkdir -p "$BUILD_DIR/bench-work" || die "cannot create $BUILD_DIR/bench-work"
WORK=$(mktemp -d "$BUILD_DIR/bench-work/deploy.XXXXXX") || die "cannot create a work dir"
bench_cleanup() {
	local rc=$?
	trap - EXIT
	th_teardown_all
	rm -rf "$WORK"
	[ -z "${TH_RUN_DIR:-}" ] || rm -rf "$TH_RUN_DIR"
	exit "$rc"
}
trap bench_cleanup EXIT

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }

# ---- releases ---------------------------------------------------------------
echo "== bench_deploy: ${PAYLOAD_MIB} MiB releases, $N alternating rounds, MinHealthy=$MIN_HEALTHY, $(nproc) CPUs"
KEYS=$WORK/keys
REL=$WORK/rel
mkdir -p "$KEYS" "$REL" "$WORK/out"
"$RW" release keygen -W -p "$KEYS/release.pub" -s "$KEYS/release.key" >/dev/null ||
	die "keygen failed"
head -c "${PAYLOAD_MIB}M" /dev/urandom >"$WORK/payload.bin" || die "cannot write the payload"

# release VERSION: make-release.sh's tarball plus share/payload.bin, repacked
# the way make-release.sh packs, and its signed manifest.
release() {
	local v=$1 tree="$WORK/tree-$1" tgz="$REL/sample-$1.tar.gz"
	"$SRC_DIR/tests/sample-app/make-release.sh" "$REL" "$v" >/dev/null || return 1
	mkdir -p "$tree" && tar -xzf "$tgz" -C "$tree" || return 1
	install -D -m 0644 "$WORK/payload.bin" "$tree/share/payload.bin" || return 1
	(cd "$tree" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		tar --owner=0 --group=0 --numeric-owner --no-recursion -czf "$tgz.tmp" -T -) &&
		mv -f "$tgz.tmp" "$tgz" && rm -rf "$tree" || return 1
	"$RW" release create --app sample --version "$v" --artifact "$tgz" \
		-s "$KEYS/release.key" --output "$REL/sample-$v.manifest" >/dev/null
}
VERSIONS=(1.0.0)
for i in $(seq "$N"); do VERSIONS+=("1.$i.0"); done
for v in "${VERSIONS[@]}"; do
	release "$v" || die "cannot build release $v"
done
chmod -R a+rX "$WORK"
echo "release tarball: $(stat -c %s "$REL/sample-1.0.0.tar.gz") bytes"

# ---- the host ---------------------------------------------------------------
th_boot $H || die "cannot boot the test host"
th_exec $H mkdir -p /etc/rollwave/apps /etc/rollwave/keys /srv/manual/releases /srv/manual/incoming
th_put $H "$KEYS/release.pub" /etc/rollwave/keys/release.pub
th_write $H /etc/rollwave/agent.conf <<CONF
[Agent]
StateDirectory=/srv/agent-state
AppsDirectory=/etc/rollwave/apps
TrustedKeys=/etc/rollwave/keys/release.pub
CONF
th_write $H /etc/rollwave/apps/sample.conf <<CONF
[App]
Name=sample
Root=/srv/sample
Units=sample.service
KeepReleases=2

[Health]
HttpGet=http://127.0.0.1:8080/health
MinHealthy=$MIN_HEALTHY
Deadline=30s
Interval=100ms
ProbeTimeout=5s
CONF
for unit in sample:8080 manual:8081; do
	th_write $H "/run/systemd/system/${unit%%:*}.service" <<UNIT
[Unit]
Description=rollwave sample app (${unit%%:*})
[Service]
ExecStart=/srv/${unit%%:*}/current/bin/rollwave-sample --port ${unit#*:} --release-dir /srv/${unit%%:*}/current
Restart=on-failure
RestartSec=500ms
UNIT
done
th_systemctl $H daemon-reload || die "daemon-reload failed"

# The two procedures, each run inside the host by one bash that times itself
# (microseconds on stdout's last line).
cat >"$WORK/manual.sh" <<'SH'
#!/bin/bash
# manual.sh VERSION TARBALL
set -euo pipefail
v=$1 src=$2 tgz=/srv/manual/incoming/sample-$1.tar.gz
t0=$(date +%s%N)
cp "$src" "$tgz"
b2sum "$tgz" >/dev/null
mkdir /srv/manual/releases/"$v"
tar -xzf "$tgz" -C /srv/manual/releases/"$v"
ln -sfn releases/"$v" /srv/manual/current
systemctl restart manual.service
until curl -sf -o /dev/null --max-time 5 http://127.0.0.1:8081/health; do sleep 0.1; done
t1=$(date +%s%N)
# Untimed housekeeping: keep the current and the previous release.
rm -f "$tgz"
ls /srv/manual/releases | sort -V | head -n -2 | sed 's|^|/srv/manual/releases/|' | xargs -r rm -rf
echo $(((t1 - t0) / 1000))
SH
cat >"$WORK/agent.sh" <<'SH'
#!/bin/bash
# agent.sh AGENT GNU_TIME MANIFEST OUT_PREFIX
set -uo pipefail
agent=$1 gnutime=$2 manifest=$3 out=$4
t0=$(date +%s%N)
"$gnutime" -f 'maxrss_kib=%M' -o "$out.rss" \
	"$agent" --config /etc/rollwave/agent.conf deploy sample --manifest "$manifest" \
	>"$out.stdout" 2>"$out.stderr"
rc=$?
t1=$(date +%s%N)
[ $rc -eq 0 ] || { cat "$out.stdout" "$out.stderr" >&2; exit $rc; }
echo $(((t1 - t0) / 1000))
SH
chmod +x "$WORK/manual.sh" "$WORK/agent.sh"

manual() { th_exec $H "$WORK/manual.sh" "$1" "$REL/sample-$1.tar.gz"; }
agent() { th_exec $H "$WORK/agent.sh" "$AGENT" "$GNU_TIME" "$REL/sample-$1.manifest" "$WORK/out/agent-$1"; }
# served PORT: the version the app on PORT answers from outside the host
# (three tries: the answer, not the network, is what is checked).
served() {
	local v _
	for _ in 1 2 3; do
		v=$(curl -s --max-time 3 "http://$(th_ip $H):$1/version") && [ -n "$v" ] && break
		sleep 0.2
	done
	echo "$v"
}

# Warm-up with 1.0.0 (first install: directories, state, page cache), untimed.
manual 1.0.0 >/dev/null || die "manual warm-up deploy failed"
agent 1.0.0 >/dev/null || die "rollwave-agent warm-up deploy failed"

manual_us=() agent_us=()
for i in $(seq "$N"); do
	v=1.$i.0
	sync
	t=$(manual "$v") || die "manual deploy of $v failed"
	manual_us+=("$t")
	got=$(served 8081)
	[ "$got" = "$v" ] || die "manual.service answers '$got', not $v"
	sync
	t=$(agent "$v") || die "rollwave-agent deploy of $v failed"
	agent_us+=("$t")
	got=$(served 8080)
	[ "$got" = "$v" ] || die "sample.service answers '$got', not $v"
	echo "round $i ($v): manual $(secs "${manual_us[-1]}") s, rollwave $(secs "${agent_us[-1]}") s"
	sed -n 's/^rollwave-agent: timings: /    agent phases: /p' "$WORK/out/agent-$v.stderr"
done

m=$(median "${manual_us[@]}")
a=$(median "${agent_us[@]}")
rss=$(for v in "${VERSIONS[@]:1}"; do sed -n 's/^maxrss_kib=//p' "$WORK/out/agent-$v.rss"; done | sort -n | tail -1)
size=$(stat -c %s "$AGENT")
stripped=$(strip -o "$WORK/agent.stripped" "$AGENT" 2>/dev/null && stat -c %s "$WORK/agent.stripped")
echo "-- medians over $N rounds:"
printf '  %-40s %8s s\n' "manual (cp, b2sum, tar, ln, restart, curl)" "$(secs "$m")"
printf '  %-40s %8s s\n' "rollwave-agent deploy" "$(secs "$a")"
awk -v a="$a" -v m="$m" 'BEGIN { printf "rollwave deploy / manual = %.2f (target <= 1.30)\n", a / m }'
echo "rollwave-agent binary: $size bytes (${stripped:-?} stripped), peak RSS during deploy: ${rss:-?} KiB"
