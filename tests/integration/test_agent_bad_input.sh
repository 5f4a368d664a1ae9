#!/bin/bash
# The bad-input matrix of `rollwave-agent deploy`, end to end on one test
# host with real systemd as PID 1: tampered artifacts and signatures,
# untrusted and legacy keys, malformed .minisig files, replayed, expired and
# foreign manifests, a version whose content changed, malicious archives
# (properly signed), a full disk and a flapping health check.
#
#   tests/integration/test_agent_bad_input.sh BUILD_DIR
#
# Every refused deploy must exit 1 (3 for the flapping release) with a
# one-line reason naming what was wrong, and leave the host as it was:
# `current` and the service unchanged, no .staging-*/.download-* leftovers,
# no directory for the refused version, nothing written anywhere else under
# /srv or /etc/rollwave (a canary dir /srv/outside plus `find -newer`).
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
RW="$BUILD_DIR/cli/rollwave"
AGENT="$BUILD_DIR/agent/rollwave-agent"
export BUILD_DIR

source "$SRC_DIR/tests/harness/testhost.sh"
source "$SRC_DIR/tests/harness/sample-host.sh"
th_install_traps

# Hosts see the machine's disk except /run, /tmp, /var/tmp, /srv, /etc/rollwave.
WORK=$(mktemp -d "$BUILD_DIR/rw-bad-input.XXXXXX")
# The harness's run dir (console logs) is kept after a failure, and when the
# caller chose it; deleted after a clean run.
own_run_dir=${TH_RUN_DIR:-yes}
clean_run=
trap 'th_teardown_all; rm -rf "$WORK"
	if [ "$own_run_dir" = yes ] && [ -n "$clean_run" ] && [ -n "${TH_RUN_DIR:-}" ]; then rm -rf "$TH_RUN_DIR"; fi' EXIT
H=badin1 # not h1: other tests may run at the same time
passed=0
failed=0
started=$SECONDS

source "$(dirname "$0")/../harness/checks.sh"
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

agent() { th_exec $H "$AGENT" --config /etc/rollwave/agent.conf "$@"; }
current() { th_exec $H readlink "/srv/${1:-sample}/current" 2>/dev/null; }
served_version() { curl -s --max-time 3 "http://$(th_ip $H):8080/version"; }

# run_agent EXPECTED_STATUS EXPECTED_MESSAGE_REGEX ARGS...
run_agent() {
	local want=$1 pattern=$2 out st
	shift 2
	out=$(agent "$@" 2>&1)
	st=$?
	echo "# exit $st: $(tail -n 1 <<<"$out")"
	if [ "$st" -ne "$want" ]; then
		echo "  rollwave-agent $* exited $st, wanted $want; output:" >&2
		sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
	if ! grep -Eq -- "$pattern" <<<"$out"; then
		echo "  output of rollwave-agent $* lacks /$pattern/:" >&2
		sed 's/^/    /' <<<"$out" >&2
		return 1
	fi
}

expect_current() { # expect_current VERSION [APP]
	local c
	c=$(current "${2:-sample}")
	[ "$c" = "releases/$1" ] || { echo "  current is '$c', wanted releases/$1" >&2; return 1; }
}

expect_served() {
	local v
	v=$(served_version)
	[ "$v" = "$1" ] || { echo "  service answers '$v', wanted '$1'" >&2; return 1; }
}

expect_releases() { # expect_releases APP "V1 V2 ..." (exactly these entries, dotfiles included)
	local got
	got=$(th_exec $H ls -A "/srv/$1/releases" | LC_ALL=C sort -V | tr '\n' ' ')
	[ "$got" = "$2 " ] || { echo "  /srv/$1/releases holds '$got', wanted '$2 '" >&2; return 1; }
}

# unchanged VERSION "RELEASES": the sample app is exactly as before the
# refused deploy, and nothing outside its releases dir was written since
# the marker /run/rw-marker (touched before the deploy).
unchanged() {
	local v=$1 rels=$2 bad=0 got
	expect_current "$v" || bad=1
	expect_served "$v" || bad=1
	expect_releases sample "$rels" || bad=1
	got=$(th_exec $H sh -c 'ls -A /srv/outside; cat /srv/outside/canary')
	[ "$got" = $'canary\ncanary content' ] || {
		echo "  canary dir /srv/outside changed: '$got'" >&2
		bad=1
	}
	got=$(th_exec $H find /srv /etc/rollwave -newer /run/rw-marker \
		-not -path /srv/agent-state -not -path '/srv/agent-state/*' \
		-not -path /srv/sample/releases)
	[ -z "$got" ] || { echo "  written since the deploy started:" >&2; sed 's/^/    /' <<<"$got" >&2; bad=1; }
	return $bad
}

LIVE=1.0.0       # what the sample app must still run after a refused deploy
RELEASES="1.0.0" # what /srv/sample/releases must hold

# refused DESCRIPTION STATUS REGEX MANIFEST: deploy must fail, naming why,
# and change nothing.
refused() {
	local what=$1 want=$2 re=$3 m=$4
	th_exec $H touch /run/rw-marker
	check "$what: exit $want, /$re/" run_agent "$want" "$re" deploy sample --manifest "$m"
	check "$what: current, service, releases, /srv and /etc/rollwave unchanged" \
		unchanged "$LIVE" "$RELEASES"
}

# ---- keys -----------------------------------------------------------------
KEYS=$WORK/keys
mkdir -p "$KEYS" "$WORK/rel"
"$RW" release keygen -W -p "$KEYS/release.pub" -s "$KEYS/release.key" >/dev/null
"$RW" release keygen -W -p "$KEYS/other.pub" -s "$KEYS/other.key" >/dev/null
# A key made by the real minisign, trusted on the host: only the legacy
# signature algorithm is wrong in case 4.
minisign -G -W -p "$KEYS/legacy.pub" -s "$KEYS/legacy.key" >/dev/null

# manifest ARTIFACT APP VERSION KEY OUTPUT [ARGS...]
manifest() {
	local art=$1 app=$2 v=$3 key=$4 out=$5
	shift 5
	"$RW" release create --app "$app" --version "$v" --artifact "$art" -s "$key" \
		--output "$out" "$@" >/dev/null
}

# sample_release DIR VERSION [MODE]: sample-VERSION.tar.gz + manifest in DIR
sample_release() {
	local dir=$1 v=$2 mode=${3:-ok}
	"$SRC_DIR/tests/sample-app/make-release.sh" "$dir" "$v" "$mode" >/dev/null
	manifest "$dir/sample-$v.tar.gz" sample "$v" "$KEYS/release.key" "$dir/sample-$v.manifest"
}

# case_dir NAME VERSION: a copy of the 1.1.0 tarball in $WORK/NAME, named
# for VERSION, ready for a manifest next to it
case_dir() {
	mkdir -p "$WORK/$1"
	cp "$WORK/rel/sample-1.1.0.tar.gz" "$WORK/$1/sample-$2.tar.gz"
	echo "$WORK/$1/sample-$2.tar.gz"
}

# ---- releases and bad inputs --------------------------------------------------
sample_release "$WORK/rel" 1.0.0
sample_release "$WORK/rel" 1.1.0
sample_release "$WORK/rel" 2.0.0
sample_release "$WORK/rel" 0.9.0
# (7) a second 2.0.0 with other bytes
sample_release "$WORK/rel2" 2.0.0 fail-after=3600

# (8) expired: made first so that it has expired by the time it is used
art=$(case_dir c8-expired 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c8-expired/m.manifest" --expires 1s
expired_made=$SECONDS

# (1) one artifact byte flipped after signing
art=$(case_dir c1-flipped 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c1-flipped/m.manifest"
off=$(($(stat -c %s "$art") / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$art" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 0x20)))" | dd of="$art" bs=1 seek="$off" conv=notrunc status=none

# (2) signed by a key the host does not trust
art=$(case_dir c2-untrusted 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/other.key" "$WORK/c2-untrusted/m.manifest"
other_id=$(sed -n '1s/.*public key //p' "$KEYS/other.pub")

# (3) trusted comment edited (line 3), global signature kept
art=$(case_dir c3-comment 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c3-comment/m.manifest"
sig=$WORK/c3-comment/m.manifest.minisig
awk 'NR == 3 { c = substr($0, length($0)); $0 = substr($0, 1, length($0) - 1) (c == "7" ? "8" : "7") } 1' \
	"$sig" >"$sig.new" && mv "$sig.new" "$sig"

# (4) legacy (non-prehashed) signature by the real minisign, trusted key
art=$(case_dir c4-legacy 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c4-legacy/m.manifest"
minisign -S -l -s "$KEYS/legacy.key" -m "$WORK/c4-legacy/m.manifest" \
	-x "$WORK/c4-legacy/m.manifest.minisig" >/dev/null </dev/null
# the same key, prehashed, is fine: only the algorithm is refused
minisign -S -s "$KEYS/legacy.key" -m "$WORK/c4-legacy/m.manifest" \
	-x "$WORK/c4-legacy/prehashed.minisig" >/dev/null </dev/null

# (5) malformed .minisig: bad base64, truncated, oversized
for c in b64 truncated oversized; do
	art=$(case_dir "c5-$c" 1.1.0)
	manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c5-$c/m.manifest"
done
sig=$WORK/c5-b64/m.manifest.minisig
sed -i '2s/^..../R!*~/' "$sig"
sig=$WORK/c5-truncated/m.manifest.minisig
head -n 2 "$sig" >"$sig.new" && mv "$sig.new" "$sig"
sig=$WORK/c5-oversized/m.manifest.minisig
head -c 5000 /dev/zero | tr '\0' 'A' >>"$sig"

# (9) a manifest for another app
art=$(case_dir c9-other 1.1.0)
manifest "$art" other 1.1.0 "$KEYS/release.key" "$WORK/c9-other/m.manifest"

# (10) bytes appended to the artifact after signing
art=$(case_dir c10-longer 1.1.0)
manifest "$art" sample 1.1.0 "$KEYS/release.key" "$WORK/c10-longer/m.manifest"
declared=$(stat -c %s "$art")
head -c 4096 /dev/urandom >>"$art"

# (11) malicious archives, properly signed (python3 tarfile; the bomb and the
# million entries are written directly, in seconds)
cat >"$WORK/evil_tar.py" <<'PY'
import gzip, io, sys, tarfile, time
out, kind, version = sys.argv[1], sys.argv[2], sys.argv[3]
now = int(time.time())


def info(name, type=tarfile.REGTYPE, mode=0o644, linkname=""):
    t = tarfile.TarInfo(name)
    t.type, t.mode, t.linkname, t.mtime = type, mode, linkname, now
    t.uid = t.gid = 0
    t.uname = t.gname = "root"
    return t


def ustar(t):
    return t.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")


if kind == "bomb":
    # One file of 5 GiB of zeros: concatenated gzip members (RFC 1952), the
    # header, then one compressed MiB of zeros 5120 times, then the end blocks.
    size, chunk = 5 << 30, 1 << 20
    t = info("zeros")
    t.size = size
    zeros = gzip.compress(bytes(chunk), compresslevel=9, mtime=0)
    with open(out, "wb") as f:
        f.write(gzip.compress(ustar(t), mtime=0))
        for _ in range(size // chunk):
            f.write(zeros)
        f.write(gzip.compress(bytes(1024), mtime=0))
elif kind == "many":
    # A directory and 1,000,000 empty files e/000000..e/999999: one ustar
    # header with its name digits and checksum patched per entry.
    base = bytearray(ustar(info("e/000000")))
    base[148:156] = b" " * 8
    base_sum = sum(base) - 6 * ord("0")
    with gzip.GzipFile(out, "wb", compresslevel=1, mtime=0) as f:
        f.write(ustar(info("e", tarfile.DIRTYPE, 0o755)))
        buf = bytearray()
        for i in range(1000000):
            d = b"%06d" % i
            base[2:8] = d
            base[148:155] = b"%06o\0" % (base_sum + sum(d))
            buf += base
            if len(buf) >= 8 << 20:
                f.write(buf)
                buf = bytearray()
        f.write(buf)
        f.write(bytes(1024))
else:
    with tarfile.open(out, "w:gz", format=tarfile.GNU_FORMAT) as tf:
        def add(t, data=b""):
            t.size = len(data)
            tf.addfile(t, io.BytesIO(data) if data else None)

        add(info("VERSION"), (version + "\n").encode())
        if kind == "dotdot":
            add(info("../evil"), b"pwned\n")
        elif kind == "absolute":
            add(info("/srv/outside/pwned"), b"pwned\n")
        elif kind == "symlink-abs":
            add(info("link", tarfile.SYMTYPE, 0o777, "/srv/outside"))
        elif kind == "symlink-out":
            add(info("l", tarfile.SYMTYPE, 0o777, "../../../outside"))
            add(info("l/pwned"), b"pwned\n")
        elif kind == "symlink-write":
            add(info("d", tarfile.DIRTYPE, 0o755))
            add(info("l", tarfile.SYMTYPE, 0o777, "d"))
            add(info("l/pwned"), b"pwned\n")
        elif kind == "hardlink":
            add(info("h", tarfile.LNKTYPE, 0o644, "/srv/outside/canary"))
        elif kind == "chardev":
            t = info("null", tarfile.CHRTYPE, 0o666)
            t.devmajor, t.devminor = 1, 3
            add(t)
        elif kind == "fifo":
            add(info("fifo", tarfile.FIFOTYPE))
        elif kind == "setuid":
            add(info("bin/su", mode=0o4755), b"#!/bin/sh\nexec /bin/sh\n")
        else:
            sys.exit("evil_tar.py: unknown kind " + kind)
PY
EVIL_KINDS=(dotdot absolute symlink-abs symlink-out symlink-write hardlink chardev fifo setuid bomb many)
mkdir -p "$WORK/evil"
n=0
for kind in "${EVIL_KINDS[@]}"; do
	n=$((n + 1))
	v=1.2.$n # each is recorded as accepted (signature and hash are fine): rising versions
	python3 "$WORK/evil_tar.py" "$WORK/evil/sample-$v.tar.gz" "$kind" "$v" || exit 1
	manifest "$WORK/evil/sample-$v.tar.gz" sample "$v" "$KEYS/release.key" "$WORK/evil/$kind.manifest"
done

# (12) app "small" on a 1 MiB tmpfs; (13) app "flappy": plain trees
# tree_release APP VERSION [random|text]: APP-VERSION.tar.gz + manifest in $WORK/APP
tree_release() {
	local app=$1 v=$2 fill=${3:-}
	local tree=$WORK/$app/tree-$v
	mkdir -p "$tree"
	echo "$v" >"$tree/VERSION"
	case $fill in
	random) head -c 3M /dev/urandom >"$tree/data" ;;
	text) yes "rollwave disk-full test data" | head -c 3M >"$tree/data" ;;
	esac
	tar --owner=0 --group=0 -C "$tree" -czf "$WORK/$app/$app-$v.tar.gz" .
	manifest "$WORK/$app/$app-$v.tar.gz" "$app" "$v" "$KEYS/release.key" "$WORK/$app/$app-$v.manifest"
}
tree_release small 1.0.0
tree_release small 2.0.0 random # 3 MiB even compressed: the download fills the disk
tree_release small 2.0.1 text   # a small download that unpacks to 3 MiB
tree_release small 2.0.2
tree_release flappy 1.0.0
tree_release flappy 2.0.0
chmod -R a+rX "$WORK"
echo "# releases made in $((SECONDS - started))s"

# ---- the host -------------------------------------------------------------
th_boot $H || exit 1
th_exec $H mkdir -p /etc/rollwave/apps /etc/rollwave/keys /srv/outside /srv/small
th_write $H /srv/outside/canary <<<"canary content"
sample_host_setup $H "$KEYS/release.pub" "$KEYS/legacy.pub" || exit 1
sample_app_conf $H MinHealthy=1s

check "good 1.0.0 goes live" run_agent 0 "sample 1.0.0 is live and healthy" \
	deploy sample --manifest "$WORK/rel/sample-1.0.0.manifest"
check "service answers 1.0.0" expect_served 1.0.0

# ---- (1)-(5) artifact and signature -------------------------------------------
refused "(1) flipped artifact byte" 1 \
	"artifact (file://)?$WORK/c1-flipped/sample-1\.1\.0\.tar\.gz does not match the manifest: BLAKE2b-512 is [0-9a-f]{16}\.\.\., the manifest says another" \
	"$WORK/c1-flipped/m.manifest"
refused "(2) untrusted key" 1 "manifest .*rejected.*signed by untrusted key $other_id" \
	"$WORK/c2-untrusted/m.manifest"
refused "(3) edited trusted comment" 1 "manifest .*rejected.*trusted comment does not match its signature" \
	"$WORK/c3-comment/m.manifest"
check "(4) minisign's prehashed signature by the legacy key verifies" \
	"$RW" release verify -p "$KEYS/legacy.pub" -x "$WORK/c4-legacy/prehashed.minisig" \
	-m "$WORK/c4-legacy/m.manifest" >/dev/null
refused "(4) legacy minisign -l signature" 1 "manifest .*rejected.*legacy non-prehashed signature refused" \
	"$WORK/c4-legacy/m.manifest"
refused "(5) .minisig with bad base64" 1 "manifest .*rejected.*signature: invalid base64 in signature line" \
	"$WORK/c5-b64/m.manifest"
refused "(5) truncated .minisig" 1 "manifest .*rejected.*signature: truncated \(no trusted comment\)" \
	"$WORK/c5-truncated/m.manifest"
refused "(5) oversized .minisig" 1 "cannot fetch manifest signature.*m\.manifest\.minisig.*larger than the allowed 4096 bytes" \
	"$WORK/c5-oversized/m.manifest"

# ---- (8)-(10) policy and size --------------------------------------------------
[ $((SECONDS - expired_made)) -ge 2 ] || sleep 2
refused "(8) expired manifest" 1 "manifest of sample 1\.1\.0 expired at [0-9]{4}-[0-9]{2}-[0-9]{2}T" \
	"$WORK/c8-expired/m.manifest"
refused "(9) manifest for another app" 1 "manifest is for app 'other', not 'sample'" \
	"$WORK/c9-other/m.manifest"
refused "(10) artifact longer than declared" 1 \
	"cannot fetch artifact of the declared $declared bytes.*larger than the allowed $declared bytes" \
	"$WORK/c10-longer/m.manifest"

# ---- (11) malicious archives ------------------------------------------------------
declare -A EVIL_RE=(
	[dotdot]="entry '\.\./evil': '\.\.' path components are not allowed"
	[absolute]="entry '/srv/outside/pwned': absolute paths are not allowed"
	[symlink-abs]="entry 'link': symlink target '/srv/outside' is absolute"
	[symlink-out]="entry 'l': symlink target '\.\./\.\./\.\./outside' points outside the release"
	[symlink-write]="entry 'l/pwned': parent 'l' is a symlink \(writing through symlinks is not allowed\)"
	[hardlink]="entry 'h': hardlinks are not allowed \(link to '/srv/outside/canary'\)"
	[chardev]="entry 'null': device nodes are not allowed"
	[fifo]="entry 'fifo': FIFOs are not allowed"
	[setuid]="entry 'bin/su': setuid/setgid bits are not allowed \(mode 04755\)"
	[bomb]="entry 'zeros': size 5368709120 bytes exceeds the limit of 4294967296 bytes"
	[many]="archive has more than the limit of 100000 entries"
)
for kind in "${EVIL_KINDS[@]}"; do
	refused "(11) archive: $kind" 1 "${EVIL_RE[$kind]}" "$WORK/evil/$kind.manifest"
done

# ---- (6)-(7) replay and changed content ------------------------------------------
check "good 2.0.0 goes live" run_agent 0 "sample 2.0.0 is live and healthy" \
	deploy sample --manifest "$WORK/rel/sample-2.0.0.manifest"
LIVE=2.0.0
RELEASES="1.0.0 2.0.0"
refused "(6) older 1.0.0 replayed while still on disk" 1 \
	"sample 1\.0\.0 is older than 2\.0\.0, the newest release this host accepted; it is still on disk: use 'rollwave-agent rollback sample --to 1\.0\.0'" \
	"$WORK/rel/sample-1.0.0.manifest"
refused "(6) older 0.9.0, never installed" 1 \
	"sample 0\.9\.0 is older than 2\.0\.0, the newest release this host accepted \(rollback-attack guard\)" \
	"$WORK/rel/sample-0.9.0.manifest"
refused "(7) 2.0.0 again with different content" 1 \
	"sample 2\.0\.0 was accepted before with a different artifact hash; a version's content never changes" \
	"$WORK/rel2/sample-2.0.0.manifest"

# ---- (12) disk full ------------------------------------------------------------
th_exec $H mount -t tmpfs -o size=1m tmpfs /srv/small
th_write $H /etc/rollwave/apps/small.conf <<'CONF'
[App]
Name=small
Root=/srv/small
Units=
KeepReleases=2

[Health]
MinHealthy=0s
Deadline=5s
Interval=100ms
CONF
check "(12) small 1.0.0 goes live on the 1 MiB tmpfs" run_agent 0 "small 1\.0\.0 is live and healthy" \
	deploy small --manifest "$WORK/small/small-1.0.0.manifest"
check "(12) a 3 MiB download on a 1 MiB disk: exit 1, disk full" \
	run_agent 1 "fetch '.*small-2\.0\.0\.tar\.gz': disk full after [0-9]+ bytes, cannot write the download" \
	deploy small --manifest "$WORK/small/small-2.0.0.manifest"
check "(12) small 1.0.0 stays current" expect_current 1.0.0 small
check "(12) no leftovers, no 2.0.0" expect_releases small "1.0.0"
check "(12) a release unpacking to 3 MiB on a 1 MiB disk: exit 1, disk full" \
	run_agent 1 "disk full while unpacking '(\./)?data'" \
	deploy small --manifest "$WORK/small/small-2.0.1.manifest"
check "(12) small 1.0.0 stays current" expect_current 1.0.0 small
check "(12) no leftovers, no 2.0.1" expect_releases small "1.0.0"
check "(12) the space came back: a small 2.0.2 goes live" run_agent 0 "small 2\.0\.2 is live and healthy" \
	deploy small --manifest "$WORK/small/small-2.0.2.manifest"

# ---- (13) a flapping health check ----------------------------------------------------
# 'ok' passes always; 'flap' alternates fail/pass, but only while current is
# 2.0.0, so that the rollback to 1.0.0 verifies healthy.
th_write $H /srv/flappy-probe 0755 <<'PROBE'
#!/bin/sh
[ "$(cat /srv/flappy-mode 2>/dev/null)" = flap ] || exit 0
[ "$(readlink /srv/flappy/current)" = releases/2.0.0 ] || exit 0
n=$(($(cat /srv/flappy-count 2>/dev/null || echo 0) + 1))
echo "$n" >/srv/flappy-count
[ $((n % 2)) -eq 0 ] || { echo "flap $n: failing"; exit 1; }
PROBE
th_write $H /etc/rollwave/apps/flappy.conf <<'CONF'
[App]
Name=flappy
Root=/srv/flappy

[Health]
Exec=/srv/flappy-probe
MinHealthy=2s
Interval=200ms
Deadline=6s
ProbeTimeout=2s
CONF
th_write $H /srv/flappy-mode <<<"ok"
check "(13) flappy 1.0.0 goes live with a steady probe" run_agent 0 "flappy 1\.0\.0 is live and healthy" \
	deploy flappy --manifest "$WORK/flappy/flappy-1.0.0.manifest"
th_write $H /srv/flappy-mode <<<"flap"
check "(13) flapping 2.0.0 is rolled back (exit 3), not healthy for 2s" \
	run_agent 3 "rolled back to 1\.0\.0: flappy 2\.0\.0 was unhealthy: not healthy for 2s within 6s" \
	deploy flappy --manifest "$WORK/flappy/flappy-2.0.0.manifest"
check "(13) flappy current is back at 1.0.0" expect_current 1.0.0 flappy
flaps=$(th_exec $H cat /srv/flappy-count)
check "(13) the probe really flapped (>= 10 calls on 2.0.0)" test "${flaps:-0}" -ge 10

echo "# took $((SECONDS - started))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && clean_run=1
[ "$failed" -eq 0 ]
