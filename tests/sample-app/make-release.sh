#!/bin/bash
# make-release.sh — build a release of the sample app for rollwave's tests.
#
#   BUILD_DIR=build tests/sample-app/make-release.sh OUT_DIR VERSION [MODE] [HOOK...]
#
# Packs OUT_DIR/sample-VERSION.tar.gz (plain tar + gzip, entries relative to
# the release root, owned by 0:0) holding:
#   bin/rollwave-sample       from $BUILD_DIR/tests/sample-app/ (the rollwave
#                             build) or $BUILD_DIR/ (a standalone build)
#   VERSION                   VERSION and a newline
#   the failure-mode file     per MODE:
#       ok | healthy | -      none (default)
#       fail-on-start         FAIL_ON_START: exits 1 at once
#       fail-after=N          FAIL_AFTER (N): /health 500 after N s, exit 1 at N+1 s
#       unhealthy             UNHEALTHY: runs, /health answers 500
#       errors=R              ERROR_RATIO (R, 0 to 1): that share of requests
#                             to / answer 500, /health stays 200
#   .rollwave/hooks/NAME      for each HOOK, an executable: either PATH (named
#                             after its basename) or NAME=PATH, e.g.
#                             before_activate=./hooks/slow.sh
# With SAMPLE_PAD_BYTES=N the release also holds share/pad.bin, N random
# (incompressible) bytes: a release too big for a nearly full disk.
# Prints the tarball's path. Manifests and signatures are made by
# `rollwave release create`, not here.
set -euo pipefail

usage() {
	sed -n '4p' "$0" | sed 's/^# *//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
out_dir=$1
version=$2
mode=${3:--}
shift $(($# >= 3 ? 3 : 2))

if ! [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+~-]*$ ]]; then
	echo "make-release: bad version '$version'" >&2
	exit 2
fi

bin=
for candidate in "${BUILD_DIR:-}/tests/sample-app/rollwave-sample" "${BUILD_DIR:-}/rollwave-sample"; do
	if [ -n "${BUILD_DIR:-}" ] && [ -x "$candidate" ]; then
		bin=$candidate
		break
	fi
done
if [ -z "$bin" ]; then
	echo "make-release: set BUILD_DIR to a build dir holding rollwave-sample" \
		"(BUILD_DIR='${BUILD_DIR:-}')" >&2
	exit 2
fi

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
tree=$(mktemp -d "$out_dir/.sample-$version.XXXXXX")
trap 'rm -rf "$tree"' EXIT

install -D -m 0755 "$bin" "$tree/bin/rollwave-sample"
echo "$version" >"$tree/VERSION"
if [ -n "${SAMPLE_PAD_BYTES:-}" ]; then
	[[ $SAMPLE_PAD_BYTES =~ ^[0-9]+$ ]] || { echo "make-release: bad SAMPLE_PAD_BYTES" >&2; exit 2; }
	mkdir -p "$tree/share"
	head -c "$SAMPLE_PAD_BYTES" /dev/urandom >"$tree/share/pad.bin"
fi

case $mode in
ok | healthy | -) ;;
fail-on-start) echo "exit 1 at start" >"$tree/FAIL_ON_START" ;;
fail-after=*)
	n=${mode#fail-after=}
	[[ $n =~ ^[0-9]+$ ]] || { echo "make-release: bad mode '$mode'" >&2; exit 2; }
	echo "$n" >"$tree/FAIL_AFTER"
	;;
unhealthy) echo "health answers 500" >"$tree/UNHEALTHY" ;;
errors=*)
	n=${mode#errors=}
	[[ $n =~ ^(0|1|0?\.[0-9]+|1\.0*)$ ]] || { echo "make-release: bad mode '$mode'" >&2; exit 2; }
	echo "$n" >"$tree/ERROR_RATIO"
	;;
*)
	echo "make-release: unknown mode '$mode' (ok, fail-on-start, fail-after=N, unhealthy, errors=R)" >&2
	exit 2
	;;
esac

for hook in "$@"; do
	if [[ $hook == *=* ]]; then
		name=${hook%%=*}
		src=${hook#*=}
	else
		name=$(basename "$hook")
		src=$hook
	fi
	if ! [[ $name =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || [ ! -f "$src" ]; then
		echo "make-release: bad hook '$hook' (NAME=PATH or PATH to a file)" >&2
		exit 2
	fi
	install -D -m 0755 "$src" "$tree/.rollwave/hooks/$name"
done

tarball="$out_dir/sample-$version.tar.gz"
(cd "$tree" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	tar --owner=0 --group=0 --numeric-owner --no-recursion -czf "$tarball.tmp" -T -)
mv -f "$tarball.tmp" "$tarball"
echo "$tarball"
