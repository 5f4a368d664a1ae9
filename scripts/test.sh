#!/bin/bash
# test.sh — set up a fresh Debian 12 machine and run rollwave's whole test
# suite. Needs root (apt-get, and test hosts boot real systemd in
# namespaces).
#
#   scripts/test.sh            everything
#   ROLLWAVE_SKIP_DEPS=1       do not call apt-get
#   ROLLWAVE_TESTS="unit fuzz" only some stages (format unit fuzz integration)
#   ROLLWAVE_INTEGRATION_JOBS=4 integration tests run at once (ctest -j)
#
# Stages: clang-format check; -Werror build; structure check (circles,
# arrows, sizes: scripts/README.md; stage "structure"); cmocka unit tests under
# ASan+UBSan; libFuzzer corpus replay (clang); integration tests on test
# hosts with real systemd (ctest label "integration").
set -uo pipefail

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
JOBS=$(nproc)
stages=${ROLLWAVE_TESTS:-format structure unit fuzz integration}
passed=0
failed=0
failures=()

stage() { printf '\n==== %s ====\n' "$*"; }
result() { # result NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$1")
	fi
}
want() { [[ " $stages " == *" $1 "* ]]; }

if [ "${ROLLWAVE_SKIP_DEPS:-0}" != 1 ]; then
	stage "dependencies"
	scripts/install-deps.sh || exit 1
fi

if want format; then
	stage "clang-format"
	files=$(git ls-files '*.c' '*.h' 2>/dev/null || find agent cli lib proto tests bench -name '*.[ch]')
	# shellcheck disable=SC2086
	clang-format --dry-run -Werror $files
	result clang-format $?
fi

stage "build (gcc, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
	ninja -C build -j"$JOBS"
st=$?
result build $st
if [ $st -ne 0 ]; then
	echo "build failed; stopping"
	echo "$passed passed, $failed failed"
	exit 1
fi

if want structure; then
	stage "structure (calls, includes, sizes)"
	scripts/check-structure.sh build
	result structure $?
fi

if want unit; then
	stage "unit tests under ASan+UBSan"
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DROLLWAVE_SANITIZE=ON \
		-DROLLWAVE_BENCH=OFF >/dev/null &&
		ninja -C build-asan -j"$JOBS" &&
		(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
			ctest -L unit --output-on-failure -j"$JOBS")
	result unit-asan $?
fi

if want fuzz; then
	stage "fuzz corpus replay (clang, libFuzzer)"
	CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DROLLWAVE_FUZZ=ON \
		-DROLLWAVE_TESTS=ON -DROLLWAVE_BENCH=OFF >/dev/null &&
		ninja -C build-fuzz -j"$JOBS" &&
		(cd build-fuzz && ctest -L fuzz --output-on-failure)
	result fuzz $?
fi

if want integration; then
	stage "integration tests (test hosts with real systemd)"
	tests/harness/cleanup-leftovers.sh
	# Every test run has its own bridge, subnet and ports
	# (tests/harness/README.md): they run side by side. Most of their time
	# is spent waiting on timers and systemd, so 4 fit a 2-core machine.
	(cd build && ctest -L integration -j"${ROLLWAVE_INTEGRATION_JOBS:-4}" --output-on-failure)
	result integration $?
	tests/harness/cleanup-leftovers.sh
fi

echo
for f in "${failures[@]}"; do echo "FAILED stage: $f"; done
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
