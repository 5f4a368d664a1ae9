#!/bin/bash
# install-deps.sh — install every build, test and demo dependency of
# rollwave from Debian 12's packages. Idempotent; needs root.
set -euo pipefail

packages=(
	# build
	build-essential cmake ninja-build pkg-config clang clang-format libclang-rt-14-dev
	libnng-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev libsqlite3-dev
	libsystemd-dev libarchive-dev libcurl4-openssl-dev libjansson-dev libssl-dev
	libmbedtls-dev libcmocka-dev
	# tests, demo and benchmarks: real systemd in test hosts, the real minisign
	systemd dbus iproute2 util-linux procps psmisc curl jq minisign sqlite3 python3 tar
	gzip xz-utils zstd time coreutils perl openssl
	# the real peers of test_fleet_peers: Prometheus, HAProxy and its runtime API
	prometheus haproxy socat
)

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (it calls apt-get)" >&2
	exit 1
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps.sh: all ${#packages[@]} packages already installed"
	exit 0
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps.sh: done"
