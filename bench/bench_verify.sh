#!/bin/bash
# bench_verify.sh — how fast rollwave checks a large artifact, against b2sum
# measured in the same run.
#
#   bench/bench_verify.sh BUILD_DIR
#
# Makes a 1 GiB file of random bytes under BUILD_DIR/bench-work (not /tmp,
# which may be a small tmpfs), signs it (`rollwave release keygen -W`,
# `rollwave release sign`) and makes a release manifest for it (`rollwave
# release create`), reads it once so every run hashes from the page cache,
# then alternates N runs of:
#   b2sum FILE                                   the baseline
#   rollwave release verify -p PUB -m FILE       streamed hash + signature
#   bench_hash fetch file://FILE MANIFEST PUB    the agent's path: manifest
#                                                signature, fetch_to_fd() to
#                                                /dev/null, digest vs manifest
# and prints median wall times, MiB/s and the ratios. A benchmark: it prints
# figures and never fails on them; it exits non-zero only when something
# could not run (or a digest or signature did not check).
#
# Environment: BENCH_N (runs of each, default 3), BENCH_VERIFY_MIB (file
# size, default 1024).
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
N=${BENCH_N:-3}
MIB=${BENCH_VERIFY_MIB:-1024}
RW="$BUILD_DIR/cli/rollwave"
BENCH_HASH="$BUILD_DIR/bench/bench_hash"

die() {
	echo "bench_verify: $*" >&2
	exit 1
}
for exe in "$RW" "$BENCH_HASH"; do
	[ -x "$exe" ] || die "$exe is missing; build first (ninja -C $BUILD_DIR)"
done
command -v b2sum >/dev/null || die "b2sum (coreutils) is missing"

mkdir -p "$BUILD_DIR/bench-work" || die "cannot create $BUILD_DIR/bench-work"
WORK=$(mktemp -d "$BUILD_DIR/bench-work/verify.XXXXXX") || die "cannot create a work dir"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
FILE="$WORK/artifact-1.0.0.bin"

# now_us: monotonic-enough wall clock in microseconds.
now_us() { echo $(($(date +%s%N) / 1000)); }
# timed VAR CMD...: runs CMD (output discarded), appends its wall time (us)
# to the array VAR; fails if CMD fails.
timed() {
	local -n acc=$1
	local t0 t1
	shift
	t0=$(now_us)
	"$@" >/dev/null || {
		echo "bench_verify: '$*' failed" >&2
		return 1
	}
	t1=$(now_us)
	acc+=($((t1 - t0)))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
mibps() { awk -v mib="$MIB" -v us="$1" 'BEGIN { printf "%.0f", mib / (us / 1e6) }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1e6 }'; }

echo "== bench_verify: $MIB MiB artifact, $N alternating runs each, $(nproc) CPUs"
head -c "${MIB}M" /dev/urandom >"$FILE" || die "cannot write $FILE"
"$RW" release keygen -W -p "$WORK/release.pub" -s "$WORK/release.key" >/dev/null ||
	die "keygen failed"
"$RW" release sign -s "$WORK/release.key" -m "$FILE" >/dev/null || die "sign failed"
"$RW" release create --app bench --version 1.0.0 --artifact "$FILE" -s "$WORK/release.key" \
	--output "$WORK/bench-1.0.0.manifest" >/dev/null || die "release create failed"
cat "$FILE" >/dev/null

# The digests must agree before their speeds mean anything.
b2=$(b2sum "$FILE" | cut -d' ' -f1)
grep -qx "Blake2b512=$b2" "$WORK/bench-1.0.0.manifest" ||
	die "the manifest's Blake2b512 differs from b2sum's $b2"

b2_us=() verify_us=() fetch_us=()
for i in $(seq "$N"); do
	timed b2_us b2sum "$FILE" || exit 1
	timed verify_us "$RW" release verify -q -p "$WORK/release.pub" -m "$FILE" || exit 1
	timed fetch_us "$BENCH_HASH" fetch "file://$FILE" "$WORK/bench-1.0.0.manifest" \
		"$WORK/release.pub" || exit 1
	echo "run $i: b2sum $(secs "${b2_us[-1]}") s, rollwave verify $(secs "${verify_us[-1]}") s," \
		"agent fetch path $(secs "${fetch_us[-1]}") s"
done

b2=$(median "${b2_us[@]}")
ve=$(median "${verify_us[@]}")
fe=$(median "${fetch_us[@]}")
echo "-- medians over $N runs ($MIB MiB, cached):"
printf '  %-34s %8s s %6s MiB/s\n' "b2sum" "$(secs "$b2")" "$(mibps "$b2")"
printf '  %-34s %8s s %6s MiB/s\n' "rollwave release verify" "$(secs "$ve")" "$(mibps "$ve")"
printf '  %-34s %8s s %6s MiB/s\n' "agent path (fetch_to_fd file://)" "$(secs "$fe")" \
	"$(mibps "$fe")"
awk -v b="$b2" -v v="$ve" -v f="$fe" 'BEGIN {
	printf "rollwave verify throughput / b2sum throughput = %.2f (target >= 1.00)\n", b / v
	printf "agent fetch throughput / b2sum throughput = %.2f (target >= 1.00)\n", b / f
}'
# This machine's CPU speed can change by a third from one second to the next
# (shared vCPUs); the fastest run of each is the figure least touched by it.
minimum() { printf '%s\n' "$@" | sort -n | head -1; }
awk -v b="$(minimum "${b2_us[@]}")" -v v="$(minimum "${verify_us[@]}")" \
	-v f="$(minimum "${fetch_us[@]}")" 'BEGIN {
	printf "best of each: b2sum %.3f s, verify %.3f s, agent path %.3f s;", b / 1e6, v / 1e6, f / 1e6
	printf " verify/b2sum throughput = %.2f, agent/b2sum = %.2f\n", b / v, b / f
}'
echo "-- in-process hashing of the same file (one pass each, for reference):"
"$BENCH_HASH" all "$FILE" | grep -v '^[0-9a-f]\{128\} ' | sed 's/^/  /'
