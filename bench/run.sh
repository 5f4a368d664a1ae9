#!/bin/bash
# run.sh — run every rollwave benchmark and print a summary of their figures.
#
#   bench/run.sh BUILD_DIR
#
# Runs bench_verify.sh (hashing + signature check of a 1 GiB artifact vs
# b2sum) and bench_deploy.sh (rollwave-agent deploy of a ~50 MiB release vs
# the same steps by hand, in a test host; needs root). Each prints ratios
# against a baseline measured in the same run; nothing here passes or fails
# on a figure. Exit status: 0 when every benchmark ran, 1 when one could not
# run (its own output says why). Full output of each is kept in
# BUILD_DIR/bench-work/<name>.log.
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BUILD_DIR/bench-work" || exit 1

failed=()
summary=()
for b in bench_verify bench_deploy bench_agent_rss bench_waves; do
	log="$BUILD_DIR/bench-work/$b.log"
	echo "### $b"
	"$BENCH_DIR/$b.sh" "$BUILD_DIR" 2>&1 | tee "$log"
	if [ "${PIPESTATUS[0]}" -ne 0 ]; then
		failed+=("$b")
		summary+=("$b: could not run (see $log)")
		continue
	fi
	while IFS= read -r line; do
		summary+=("$b: $line")
	done < <(awk '/^-- medians/ { m = 1; next } /^--/ { m = 0 }
		m || / = [0-9.]+ \(target/ || /^best of each|binary:/' "$log")
	echo
done

echo "### summary"
printf '%s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || { echo "could not run: ${failed[*]}"; exit 1; }
exit 0
