#!/bin/bash
# test_minisign_compat: proves with the real /usr/bin/minisign that rollwave's
# keys and signatures interoperate in both directions, and that legacy
# (non-prehashed) signatures are refused.
#
# Usage: test_minisign_compat.sh BUILD_DIR
# Exits non-zero if any check fails; prints "N passed, M failed" at the end.
# Encrypted keys use minisign's scrypt cost (about 1 GiB, seconds per key).
set -u

build=${1:?usage: $0 BUILD_DIR}
rollwave=$(realpath "$build/cli/rollwave")
minisign=${MINISIGN:-/usr/bin/minisign}
[ -x "$rollwave" ] || { echo "no rollwave binary at $rollwave" >&2; exit 2; }
[ -x "$minisign" ] || { echo "no minisign at $minisign" >&2; exit 2; }

work=$(mktemp -d /tmp/test_minisign_compat.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2
unset ROLLWAVE_PASSWORD MINISIGN_PASSWORD

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; [ -s out ] && sed 's/^/#   /' out; }
# check NAME COMMAND...: the command must succeed.
check() {
	local name=$1; shift
	if "$@" >out 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# refuse NAME PATTERN COMMAND...: the command must fail (exit 1) and say PATTERN.
refuse() {
	local name=$1 pattern=$2 rc; shift 2
	"$@" >out 2>&1
	rc=$?
	if [ "$rc" = 1 ] && grep -q -- "$pattern" out; then ok "$name"; else
		echo "#   exit $rc, expected 1 and '$pattern'" >>out
		not_ok "$name"
	fi
}

head -c 3000000 /dev/urandom >artifact.tar.gz
printf 'hello\n' >small.txt

# 1. minisign signs, rollwave verifies (unencrypted minisign key).
check "minisign -G -W" "$minisign" -G -W -p m.pub -s m.key
check "minisign -S" "$minisign" -S -s m.key -m artifact.tar.gz -t "release web 1.0"
check "rollwave verifies a minisign signature" \
	"$rollwave" release verify -p m.pub -m artifact.tar.gz
grep -q "^Signature and comment signature verified$" out &&
	grep -q "^Trusted comment: release web 1.0$" out &&
	ok "rollwave prints minisign's verification lines" ||
	not_ok "rollwave prints minisign's verification lines"
check "rollwave verify -q prints nothing" \
	"$rollwave" release verify -q -p m.pub -m artifact.tar.gz
[ ! -s out ] && ok "quiet output is empty" || not_ok "quiet output is empty"

# 2. rollwave signs, minisign verifies (unencrypted rollwave key).
check "rollwave keygen -W" "$rollwave" release keygen -W -p r.pub -s r.key
[ "$(stat -c %a r.key)" = 600 ] && ok "secret key is mode 0600" || not_ok "secret key is mode 0600"
refuse "keygen refuses to overwrite without -f" "already exists" \
	"$rollwave" release keygen -W -p r.pub -s r.key
check "keygen -f overwrites" "$rollwave" release keygen -W -f -p r.pub -s r.key
check "rollwave sign" "$rollwave" release sign -s r.key -m artifact.tar.gz -x r.sig \
	-t "trusted by rollwave" -c "made by rollwave"
check "minisign -V verifies a rollwave signature" \
	"$minisign" -V -p r.pub -x r.sig -m artifact.tar.gz
grep -q "Trusted comment: trusted by rollwave" out && ok "minisign shows rollwave's trusted comment" ||
	not_ok "minisign shows rollwave's trusted comment"
check "minisign -V -H (prehashed required) accepts it" \
	"$minisign" -V -H -p r.pub -x r.sig -m artifact.tar.gz
check "rollwave sign with the default comment" "$rollwave" release sign -s r.key -m small.txt
check "minisign verifies small.txt.minisig" "$minisign" -V -p r.pub -m small.txt
grep -qP "Trusted comment: timestamp:\d+\tfile:small.txt\thashed" out &&
	ok "default trusted comment is minisign's" || not_ok "default trusted comment is minisign's"

# 3. Each tool signs with the other's unencrypted secret key.
check "minisign signs with a rollwave -W key" "$minisign" -S -s r.key -m small.txt -x mr.sig
check "rollwave verifies it" "$rollwave" release verify -p r.pub -x mr.sig -m small.txt
check "rollwave signs with a minisign -W key" "$rollwave" release sign -s m.key -m small.txt -x rm.sig
check "minisign verifies it" "$minisign" -V -p m.pub -x rm.sig -m small.txt

# 4. Password-protected keys, both directions.
printf 'minisign-pw\nminisign-pw\n' >pw2
check "minisign -G with a password on stdin" "$minisign" -G -p me.pub -s me.key <pw2
check "rollwave signs with minisign's encrypted key (password on stdin)" \
	"$rollwave" release sign -s me.key -m small.txt -x me.sig <pw2
check "minisign verifies that signature" "$minisign" -V -p me.pub -x me.sig -m small.txt
printf 'wrong\n' >pwbad
refuse "rollwave refuses a wrong password" "wrong password" \
	"$rollwave" release sign -s me.key -m small.txt -x bad.sig <pwbad
printf 'rollwave-pw\n' >pw1
check "rollwave keygen with a password on stdin" \
	"$rollwave" release keygen -p re.pub -s re.key <pw1
check "minisign signs with rollwave's encrypted key (password on stdin)" \
	"$minisign" -S -s re.key -m small.txt -x re.sig <pw1
check "rollwave verifies that signature" "$rollwave" release verify -p re.pub -x re.sig -m small.txt
check "rollwave signs with its encrypted key from \$ROLLWAVE_PASSWORD" \
	env ROLLWAVE_PASSWORD=rollwave-pw "$rollwave" release sign -s re.key -m small.txt -x re2.sig
check "minisign verifies that signature too" "$minisign" -V -p re.pub -x re2.sig -m small.txt

# 5. Refusals.
check "minisign -S -l (legacy)" "$minisign" -S -l -s m.key -m small.txt -x legacy.sig
refuse "rollwave refuses a legacy signature" "legacy non-prehashed signature refused" \
	"$rollwave" release verify -p m.pub -x legacy.sig -m small.txt
refuse "rollwave refuses a signature by an untrusted key" "signed by untrusted key" \
	"$rollwave" release verify -p r.pub -x artifact.tar.gz.minisig -m artifact.tar.gz
cp artifact.tar.gz tampered.tar.gz
orig=$(od -An -tu1 -j1234567 -N1 artifact.tar.gz | tr -d ' ')
printf "\\x$(printf %02x $(((orig + 1) % 256)))" |
	dd of=tampered.tar.gz bs=1 seek=1234567 conv=notrunc status=none
cmp -s artifact.tar.gz tampered.tar.gz && not_ok "tampered copy differs" || ok "tampered copy differs"
refuse "rollwave refuses a modified file" "signature verification failed" \
	"$rollwave" release verify -p m.pub -x artifact.tar.gz.minisig -m tampered.tar.gz
sed 's/^trusted comment: release web 1.0$/trusted comment: release web 9.9/' \
	artifact.tar.gz.minisig >edited.minisig
refuse "rollwave refuses an edited trusted comment" "trusted comment does not match" \
	"$rollwave" release verify -p m.pub -x edited.minisig -m artifact.tar.gz
refuse "minisign agrees about the edited comment" "verification failed" \
	"$minisign" -V -p m.pub -x edited.minisig -m artifact.tar.gz

# 6. A signed manifest made by rollwave verifies with minisign.
check "rollwave release create" "$rollwave" release create --app web --version 1.0.0 \
	--artifact "$work/artifact.tar.gz" -s r.key --expires 30d
check "minisign verifies the manifest" "$minisign" -V -p r.pub -m web-1.0.0.manifest
[ "$(sed -n 's/^Blake2b512=//p' web-1.0.0.manifest)" = "$(b2sum artifact.tar.gz | cut -d' ' -f1)" ] &&
	ok "manifest hash equals b2sum" || not_ok "manifest hash equals b2sum"

# 7. Usage errors exit 2.
"$rollwave" release sign -m small.txt >out 2>&1
[ $? = 2 ] && ok "missing -s is a usage error (exit 2)" || not_ok "missing -s is a usage error (exit 2)"
"$rollwave" frobnicate >out 2>&1
[ $? = 2 ] && ok "unknown command exits 2" || not_ok "unknown command exits 2"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
