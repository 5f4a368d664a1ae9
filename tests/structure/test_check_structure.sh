#!/bin/bash
# test_check_structure.sh — scripts/check-structure.sh fails when it must.
#
#   tests/structure/test_check_structure.sh [BUILD_DIR]
#
# Builds tiny synthetic trees in a temporary directory (a few objects with
# cc -c, laid out as CMake lays them out) and asserts that the check fails
# on a call circle, an include circle, a forbidden arrow, a file over 800
# lines, a function over 80 lines, a grown allow-list entry and a stale one,
# and passes on a clean tree. With BUILD_DIR (a built rollwave), also checks
# that the real tree passes and fails once a call circle is injected into a
# copy of its objects.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
CHECK=$SRC/scripts/check-structure.sh
RULES=$SRC/scripts/structure-rules.txt
REAL_BUILD=${1:-}
CC=${CC:-cc}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

# put FILE: write stdin to the synthetic tree's FILE
put() { mkdir -p "$(dirname "$TREE/$1")" && cat >"$TREE/$1"; }

# fn NAME [CALLEE] [BODY_LINES]: a function in the project's layout
fn() {
	printf 'int\n%s(void)\n{\n' "$1"
	for ((i = 0; i < ${3:-1}; i++)); do printf '\t(void)0;\n'; done
	if [ -n "${2:-}" ]; then printf '\treturn %s();\n' "$2"; else printf '\treturn 0;\n'; fi
	printf '}\n'
}
indent() { sed 's/^/#   /'; }
proto() { for f; do printf 'int %s(void);\n' "$f"; done; }

# base: a clean tree. lib/a.c <- lib/b.c; coordinator/admin.c -> waves.c -> lib
base() {
	TREE=$T/$1
	rm -rf "$TREE"
	mkdir -p "$TREE"
	echo "# synthetic" >"$TREE/README.md"
	{ echo '#include "a.h"'; fn lib_a; } | put lib/a.c
	proto lib_a | put lib/a.h
	{ echo '#include "a.h"'; proto lib_b; fn lib_b lib_a; } | put lib/b.c
	{ proto lib_a waves_x; fn waves_x lib_a; } | put coordinator/waves.c
	{ proto waves_x admin_x; fn admin_x waves_x; } | put coordinator/admin.c
	: >"$TREE/allow.txt"
}

# build: compile every .c of the tree where CMake would put its object
build() {
	local f dir
	while IFS= read -r f; do
		dir=$TREE/build/$(dirname "$f")/CMakeFiles/t.dir
		mkdir -p "$dir"
		$CC -c -w -o "$dir/$(basename "$f").o" "$TREE/$f" || return 1
	done < <(cd "$TREE" && find lib coordinator -name '*.c')
}

check() {
	"$CHECK" --src "$TREE" --rules "$RULES" --allow "$TREE/allow.txt" "$TREE/build"
}

# expect RC PATTERN NAME: the check on the current tree exits RC, says PATTERN
expect() {
	n=$((n + 1))
	local out rc
	if ! build; then
		echo "not ok $n - $3 (build failed)"
		fails=$((fails + 1))
		return
	fi
	out=$(check 2>&1)
	rc=$?
	if [ "$rc" -eq "$1" ] && grep -qe "$2" <<<"$out"; then
		echo "ok $n - $3"
	else
		echo "not ok $n - $3 (exit $rc, wanted $1 and /$2/)"
		indent <<<"$out"
		fails=$((fails + 1))
	fi
}

base clean
expect 0 "structure check passed" "a clean tree passes"

base callcircle
{ echo '#include "a.h"'; proto lib_b; fn lib_a lib_b; } | put lib/a.c
expect 1 "lib/ has a circle on calls: a b" "a call circle between two files of one folder fails"

base inclcircle
printf '#ifndef A_H\n#define A_H\n#include "b.h"\nint lib_a(void);\n#endif\n' | put lib/a.h
printf '#ifndef B_H\n#define B_H\n#include "a.h"\nint lib_b(void);\n#endif\n' | put lib/b.h
expect 1 "lib/ has a circle on includes: a.h b.h" "an include circle fails"

base arrow
{ proto waves_x; fn lib_a waves_x; } | put lib/a.c
expect 1 "lib/a.c -> coordinator/waves.c (lib -> waves, on calls: waves_x) is forbidden" \
	"a forbidden arrow (lib calls waves) fails"

base inclarrow
{ echo '#include "../coordinator/admin.h"'; fn waves_x; } | put coordinator/waves.c
proto admin_x | put coordinator/admin.h
expect 1 "coordinator/waves.c -> coordinator/admin.h (waves -> admin, on includes) is forbidden" \
	"a forbidden include arrow (waves includes admin) fails"

base wavesinternal
proto waves_x | put coordinator/waves/waves_private.h
{ echo '#include "waves/waves_private.h"'; fn admin_x waves_x; } | put coordinator/admin.c
{ echo '#include "waves/waves_private.h"'; proto lib_a; fn waves_x lib_a; } | put coordinator/waves.c
expect 1 "coordinator/admin.c -> coordinator/waves/waves_private.h (admin -> waves-internal, on includes) is forbidden" \
	"an include of the waves engine's private header from outside it fails"

base wavesown
proto waves_x | put coordinator/waves/waves_private.h
{ echo '#include "waves/waves_private.h"'; proto lib_a; fn waves_x lib_a; } | put coordinator/waves.c
expect 0 "structure check passed" "the waves engine including its own private header passes"

base bigfile
{ for ((k = 0; k < 801; k++)); do echo "/* $k */"; done; } | put lib/big.c
expect 1 "lib/big.c is 801 lines (at most 800): not in the allow-list" "a file over 800 lines fails"

base bigfunc
fn lib_a "" 77 | put lib/a.c
expect 1 "lib/a.c:lib_a() is 81 lines (at most 80): not in the allow-list" \
	"a function over 80 lines fails"

base func80
fn lib_a "" 76 | put lib/a.c
expect 0 "structure check passed" "a function of 80 lines passes"

base listed
fn lib_a "" 77 | put lib/a.c
echo "function lib/a.c:lib_a 81" >"$TREE/allow.txt"
expect 0 "structure check passed" "a listed function of its listed size passes"

base grown
fn lib_a "" 78 | put lib/a.c
echo "function lib/a.c:lib_a 81" >"$TREE/allow.txt"
expect 1 "grew past its allow-list entry of 81" "a function longer than its entry fails"

base grownfile
{ for ((k = 0; k < 850; k++)); do echo "/* $k */"; done; } | put lib/big.c
echo "file lib/big.c 840" >"$TREE/allow.txt"
expect 1 "lib/big.c is 850 lines (at most 800): grew past its allow-list entry of 840" \
	"a file longer than its entry fails"

base stale
echo "function lib/a.c:lib_a 90" >"$TREE/allow.txt"
expect 1 "'function lib/a.c:lib_a' is gone: remove it from the allow-list" "a stale entry fails"

base stalecircle
echo "circle lib: a b" >"$TREE/allow.txt"
expect 1 "'circle lib: a b' is gone: remove it" "a stale circle entry fails"

base listedcircle
{ echo '#include "a.h"'; proto lib_b; fn lib_a lib_b; } | put lib/a.c
echo "circle lib: a b" >"$TREE/allow.txt"
expect 0 "structure check passed" "a listed circle passes"

base printallow
{ echo '#include "a.h"'; proto lib_b; fn lib_a lib_b; } | put lib/a.c
fn lib_c "" 90 | put lib/c.c
build && "$CHECK" --src "$TREE" --rules "$RULES" --print-allow "$TREE/build" >"$TREE/allow.txt" 2>/dev/null
expect 0 "structure check passed" "the list --print-allow writes passes"

n=$((n + 1))
base noobjects
out=$(check 2>&1)
if [ $? -eq 2 ] && grep -q "build the tree first" <<<"$out"; then
	echo "ok $n - a tree without objects is a clear error"
else
	echo "not ok $n - a tree without objects is a clear error"
	fails=$((fails + 1))
fi

if [ -n "$REAL_BUILD" ]; then
	REAL_BUILD=$(cd "$REAL_BUILD" && pwd)
	n=$((n + 1))
	if out=$("$CHECK" "$REAL_BUILD" 2>&1); then
		echo "ok $n - the real tree passes"
	else
		echo "not ok $n - the real tree passes"
		indent <<<"$out"
		fails=$((fails + 1))
	fi

	# A copy of the real objects (links) where one lib/ object calls back
	# into a lib/ object that calls it: a circle inside lib/.
	n=$((n + 1))
	COPY=$T/real-build
	(cd "$REAL_BUILD" && find agent coordinator cli lib strategies proto -path '*CMakeFiles*' \
		-name '*.c.o') | python3 -c '
import os, sys
real, copy = sys.argv[1:]
for o in sys.stdin.read().split():
    os.makedirs(os.path.join(copy, os.path.dirname(o)), exist_ok=True)
    os.symlink(os.path.join(real, o), os.path.join(copy, o))
' "$REAL_BUILD" "$COPY"
	pick=$(cd "$COPY" && python3 - <<'PY'
import glob, subprocess
objs = sorted(glob.glob("lib/CMakeFiles/*.dir/*.c.o"))
defs, undef = {}, {}
for o in objs:
    d, u = set(), set()
    for l in subprocess.run(["nm", "-P", o], capture_output=True, text=True).stdout.splitlines():
        w = l.split()
        if len(w) >= 2:
            (u if w[1] == "U" else d if w[1] == "T" else set()).add(w[0])
    defs[o], undef[o] = d, u
for a in objs:
    for b in objs:
        if a != b and undef[a] & defs[b] and defs[a]:
            print(b, sorted(defs[a])[0])
            raise SystemExit
PY
	)
	read -r callee sym <<<"$pick"
	if [ -z "$pick" ]; then
		echo "not ok $n - found no call between two lib/ objects to turn into a circle"
		fails=$((fails + 1))
	else
		printf 'extern char %s[];\nchar *\nstructure_test_back(void)\n{\n\treturn %s;\n}\n' \
			"$sym" "$sym" >"$T/back.c"
		rm "$COPY/$callee"
		if $CC -c -w -o "$T/back.o" "$T/back.c" &&
			ld -r -o "$COPY/$callee" "$REAL_BUILD/$callee" "$T/back.o"; then
			out=$("$CHECK" "$COPY" 2>&1)
			rc=$?
			if [ $rc -eq 1 ] && grep -q "lib/ has a circle on calls" <<<"$out"; then
				echo "ok $n - the real tree fails with a circle injected ($(basename "$callee" .c.o) -> $sym)"
			else
				echo "not ok $n - the real tree fails with a circle injected (exit $rc)"
				indent <<<"$out"
				fails=$((fails + 1))
			fi
		else
			echo "not ok $n - could not inject a circle"
			fails=$((fails + 1))
		fi
	fi
fi

echo "1..$n"
[ "$fails" -eq 0 ]
