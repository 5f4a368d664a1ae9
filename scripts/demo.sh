#!/bin/bash
# demo.sh — set up a fresh Debian 12 machine, build rollwave, and show the
# host agent at work on a test host running real systemd: a signed release
# goes live, a sick release is rolled back by the host on its own, and
# `rollwave-agent status` tells what runs. Needs root. Tears everything
# down at the end (also on Ctrl-C).
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
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || die "cmake failed"
ninja -C build rollwave rollwave-agent rollwave-sample >/dev/null || die "build failed"

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

source tests/harness/testhost.sh
source tests/harness/sample-host.sh
tests/harness/cleanup-leftovers.sh
WORK=$(mktemp -d "$BUILD_DIR/demo.XXXXXX")
trap 'th_teardown_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
RW=$BUILD_DIR/cli/rollwave
AGENT=$BUILD_DIR/agent/rollwave-agent
H=web1

say "A release key, made by rollwave in minisign's format"
show "$RW" release keygen -W -p "$WORK/release.pub" -s "$WORK/release.key"

say "Releases of a small HTTP service: 1.0, 1.1 and 1.3 are good, 1.2 crashes at start"
for spec in "1.0 ok" "1.1 ok" "1.2 fail-on-start" "1.3 ok"; do
	set -- $spec
	tests/sample-app/make-release.sh "$WORK" "$1" "$2" >/dev/null
	"$RW" release create --app sample --version "$1" --artifact "$WORK/sample-$1.tar.gz" \
		-s "$WORK/release.key" --output "$WORK/sample-$1.manifest" >/dev/null
done
ls -1 "$WORK" | grep -E 'sample-' | sed 's/^/    /'
say "Each release has a signed manifest (verifiable with the stock minisign tool too)"
show cat "$WORK/sample-1.1.manifest"
show minisign -V -p "$WORK/release.pub" -m "$WORK/sample-1.1.manifest"

say "Boot test host '$H': real systemd as PID 1 in its own namespaces"
th_boot $H || die "booting test host $H failed"
echo "    $H is up at $(th_ip $H)"
sample_host_setup $H "$WORK/release.pub" || die "setting up $H failed"
sample_app_conf $H MinHealthy=2s Deadline=15s
echo "    the app's config on the host:"
th_exec $H cat /etc/rollwave/apps/sample.conf | sed 's/^/      /'

agent() {
	printf '%s$ rollwave-agent %s%s\n' "$bold" "$*" "$plain"
	th_exec $H "$AGENT" --config /etc/rollwave/agent.conf "$@"
}
ask() { printf '    the service on %s answers: %s\n' "$H" "$(curl -s --max-time 3 "http://$(th_ip $H):8080/version")"; }

say "Deploy 1.0: verify the signature, fetch, hash, unpack, swap 'current', restart, health"
agent deploy sample --manifest "$WORK/sample-1.0.manifest"
ask
say "Deploy 1.1 over it"
agent deploy sample --manifest "file://$WORK/sample-1.1.manifest"
ask
say "Deploy 1.2, which crashes on start: the host sees it is sick and swaps back on its own"
agent deploy sample --manifest "$WORK/sample-1.2.manifest" || echo "    (exit status $? = rolled back locally)"
ask
say "Someone flips one byte of the 1.3 artifact: refused before anything is unpacked"

printf 'x' | dd of="$WORK/sample-1.3.tar.gz" bs=1 seek=100 conv=notrunc status=none
agent deploy sample --manifest "$WORK/sample-1.3.manifest" || echo "    (exit status $?)"
ask
say "What runs on this host"
agent status
agent releases sample

say "What you just saw"
cat <<EOF
  - rollwave signed releases in minisign's format; the stock minisign verified them.
  - rollwave-agent installed 1.0 and 1.1 on a host with real systemd: each
    release in its own directory, 'current' swapped atomically, the unit
    restarted over D-Bus, health checked before committing.
  - 1.2 crashed on start: the agent rolled the host back to 1.1 by itself.
  - A tampered artifact never got unpacked; 1.1 kept serving.
Try next:
  scripts/test.sh                       the whole test suite
  $AGENT --help
  $RW help
EOF
