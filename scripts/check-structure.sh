#!/bin/bash
# check-structure.sh — check rollwave's structure on a built tree.
#
#   scripts/check-structure.sh [BUILD_DIR]               check (default build/)
#   scripts/check-structure.sh --summary [BUILD_DIR]     print the summary only
#   scripts/check-structure.sh --print-allow [BUILD_DIR] print the allow-list
#        for the current tree on stdout (summary on stderr)
#   options: --src DIR (tree to check, default this checkout),
#            --rules FILE (default SRC/scripts/structure-rules.txt),
#            --allow FILE (default SRC/scripts/structure-allow.txt)
#
# What it enforces, on the product folders (agent/ coordinator/ cli/ lib/
# strategies/ proto/; not tests/ bench/ or protoc-c's generated code):
#
# - No circle inside a folder, counted on calls: module X -> Y when X's
#   object has an undefined symbol that Y's object defines (`nm`; a module is
#   one .c file's object, found at BUILD/<dir>/CMakeFiles/<target>.dir/
#   <file>.c.o). Every strongly connected component of more than one module
#   of one folder is a circle. The same on includes: `#include "x.h"` lines
#   resolved in the tree, no include circle inside a folder.
# - Only the allowed arrows between parts, on calls and on includes: the
#   parts and arrows are data, in scripts/structure-rules.txt.
# - No product .c over 800 lines, no function over 80 lines. A function is
#   counted from its name line (column 0, `name(`: .clang-format puts the
#   return type on its own line) to its body's closing `}` (column 0),
#   both included.
# - Known violations are listed in scripts/structure-allow.txt with their
#   measured size. The check fails on a violation that is not listed, on a
#   file or function longer than its entry, and on an entry whose violation
#   is gone (remove it), so the list only shrinks. --print-allow writes the
#   initial list, or the list after a restructure is merged; it is not a
#   way to hide growth.
#
# It needs a built tree (the objects): cmake -S . -B build -G Ninja &&
# ninja -C build.
set -euo pipefail

ROLLWAVE_SRC=$(cd "$(dirname "$0")/.." && pwd)
export ROLLWAVE_SRC
exec python3 - "$@" <<'PY'
import collections, fnmatch, os, re, subprocess, sys

PRODUCT = ("agent", "coordinator", "cli", "lib", "strategies", "proto")
MAX_FILE = 800
MAX_FUNC = 80

def die(msg):
    sys.stderr.write("check-structure: %s\n" % msg)
    sys.exit(2)

# ---- arguments -------------------------------------------------------
mode = "check"
src = os.environ["ROLLWAVE_SRC"]
rules_path = allow_path = build = None
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a in ("--summary", "--print-allow"):
        mode = a[2:]
    elif a in ("--src", "--rules", "--allow"):
        if not args:
            die("%s needs an argument" % a)
        v = args.pop(0)
        if a == "--src":
            src = os.path.abspath(v)
        elif a == "--rules":
            rules_path = os.path.abspath(v)
        else:
            allow_path = os.path.abspath(v)
    elif a in ("-h", "--help"):
        print("usage: check-structure.sh [--summary|--print-allow] [--src DIR] "
              "[--rules FILE] [--allow FILE] [BUILD_DIR]")
        sys.exit(0)
    elif a.startswith("-"):
        die("unknown option %s (see --help)" % a)
    elif build is None:
        build = os.path.abspath(a)
    else:
        die("one BUILD_DIR only")
build = build or os.path.join(src, "build")
rules_path = rules_path or os.path.join(src, "scripts/structure-rules.txt")
allow_path = allow_path or os.path.join(src, "scripts/structure-allow.txt")

# ---- the tree --------------------------------------------------------
def generated(path):
    return path.endswith((".pb-c.c", ".pb-c.h"))

sources = []  # product .c and .h, relative to src
for top in PRODUCT:
    for dp, dn, fn in os.walk(os.path.join(src, top)):
        dn[:] = sorted(d for d in dn if d != "CMakeFiles" and not d.startswith("."))
        for f in sorted(fn):
            if f.endswith((".c", ".h")):
                sources.append(os.path.relpath(os.path.join(dp, f), src))
source_set = set(sources)

def folder(path):
    return os.path.dirname(path)

# ---- rules -----------------------------------------------------------
if not os.path.isfile(rules_path):
    die("no rules file %s" % rules_path)
parts = []  # (name, [globs]) in order: first match wins
allow_direct = set()
forbid = {}  # (from, to) -> rules line
with open(rules_path) as fh:
    raw = [(i + 1, l.split("#", 1)[0].split()) for i, l in enumerate(fh)]
for n, w in raw:
    if not w:
        continue
    if w[0] == "part" and len(w) >= 3:
        parts.append((w[1], w[2:]))
    elif w[0] in ("allow", "forbid") and "->" in w:
        k = w.index("->")
        frm, to = w[1:k], w[k + 1:]
        if not frm or not to:
            die("%s:%d: '%s FROM... -> TO...'" % (rules_path, n, w[0]))
        for f in frm:
            for t in to:
                if w[0] == "allow":
                    allow_direct.add((f, t))
                else:
                    forbid[(f, t)] = n
    else:
        die("%s:%d: not a rule: %s" % (rules_path, n, " ".join(w)))
names = [p for p, _ in parts]
for f, t in list(allow_direct) + list(forbid):
    for p in (f, t):
        if p != "*" and p not in names:
            die("%s: unknown part %s" % (rules_path, p))
# Allowed = the transitive closure of the allow lines (arrows point down
# through the layers), minus what a forbid line names; an arrow written on
# an allow line itself always holds.
closure = {p: set() for p in names}
for f, t in allow_direct:
    closure[f].add(t)
changed = True
while changed:
    changed = False
    for p in names:
        for q in list(closure[p]):
            new = closure[q] - closure[p]
            if new:
                closure[p] |= new
                changed = True

def part_of(path):
    for name, globs in parts:
        for g in globs:
            if fnmatch.fnmatchcase(path, g):
                return name
    return None

def arrow_verdict(p, q):
    """None when p -> q is allowed, else why not."""
    if p == q or (p, q) in allow_direct:
        return None
    for key in ((p, q), (p, "*"), ("*", q)):
        if key in forbid:
            return "forbidden (%s line %d)" % (os.path.basename(rules_path), forbid[key])
    if q in closure[p]:
        return None
    return "not an allowed arrow"

unmapped = [s for s in sources if part_of(s) is None]
if unmapped:
    die("no part in %s for: %s" % (rules_path, " ".join(unmapped)))

# ---- objects and symbols ---------------------------------------------
if not os.path.isdir(build):
    die("no build directory %s: build the tree first "
        "(cmake -S . -B build -G Ninja && ninja -C build)" % build)
objects = {}  # source -> object
for dp, dn, fn in os.walk(build):
    dn.sort()
    if "/CMakeFiles/" not in dp + "/":
        continue
    for f in sorted(fn):
        if not f.endswith(".c.o"):
            continue
        obj = os.path.join(dp, f)
        rel = os.path.relpath(obj, build)
        m = re.match(r"(?:(.*)/)?CMakeFiles/[^/]+\.dir/(.*)\.o$", rel)
        if not m or "__/" in m.group(2):
            continue
        s = os.path.normpath(os.path.join(m.group(1) or "", m.group(2)))
        if s.split("/")[0] not in PRODUCT:
            continue
        if s in source_set or (generated(s) and part_of(s)):
            objects.setdefault(s, obj)
modules_c = [s for s in sources if s.endswith(".c") and not generated(s)]
missing = [s for s in modules_c if s not in objects]
if not objects or len(missing) == len(modules_c):
    die("no product objects under %s: build the tree first "
        "(cmake -S . -B %s -G Ninja && ninja -C %s)" % (build, build, build))
if missing:
    die("no object under %s for %s: rebuild it (ninja -C %s)"
        % (build, " ".join(missing), build))
stale = [s for s in modules_c if os.path.getmtime(os.path.join(src, s)) >
         os.path.getmtime(objects[s])]
if stale:
    die("objects older than their source under %s (%s): rebuild it (ninja -C %s)"
        % (build, " ".join(stale[:5]), build))

mods = sorted(objects)
order = [objects[s] for s in mods]
out = subprocess.run(["nm", "-P", "-A"] + order, capture_output=True, text=True)
if out.returncode != 0:
    die("nm failed: %s" % out.stderr.strip())
by_obj = {objects[s]: s for s in mods}
defs = collections.defaultdict(set)
undef = collections.defaultdict(set)
for line in out.stdout.splitlines():
    head, _, rest = line.partition(": ")
    w = rest.split()
    if head not in by_obj or len(w) < 2:
        continue
    s, sym, t = by_obj[head], w[0], w[1]
    if t in "Uwv":
        undef[s].add(sym)
    elif t.isupper():
        defs[sym].add(s)

def target_of(s):
    return os.path.dirname(objects[s])

calls = collections.defaultdict(set)  # (x, y) -> symbols
for x in mods:
    for sym in undef[x]:
        ds = defs.get(sym, set()) - {x}
        same = {d for d in ds if target_of(d) == target_of(x)}
        for y in same or ds:
            calls[(x, y)].add(sym)

# ---- includes --------------------------------------------------------
by_base = collections.defaultdict(list)
for s in sources:
    by_base[os.path.basename(s)].append(s)

def resolve(frm, name):
    cand = os.path.normpath(os.path.join(folder(frm), name))
    if cand in source_set:
        return [cand]
    hits = [s for s in sources if s == name or s.endswith("/" + name)]
    if len(hits) > 1:
        top = frm.split("/")[0]
        near = [h for h in hits if h.split("/")[0] == top] or \
               [h for h in hits if h.startswith("lib/")]
        hits = near or hits
    return hits

includes = set()
for s in sources:
    if generated(s):
        continue
    with open(os.path.join(src, s), errors="replace") as fh:
        for line in fh:
            m = re.match(r'\s*#\s*include\s*"([^"]+)"', line)
            if m:
                for t in resolve(s, m.group(1)):
                    if t != s:
                        includes.add((s, t))

# ---- circles ---------------------------------------------------------
def sccs(nodes, edges):
    """Tarjan's strongly connected components of more than one node."""
    adj = collections.defaultdict(list)
    for a, b in edges:
        adj[a].append(b)
    index, low, stack, on, res = {}, {}, [], set(), []
    counter = [0]
    def visit(v):
        work = [(v, iter(sorted(adj[v])))]
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        while work:
            n, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(adj[w]))))
                    break
                elif w in on:
                    low[n] = min(low[n], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[n])
                if low[n] == index[n]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == n:
                            break
                    if len(comp) > 1:
                        res.append(sorted(comp))
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return res

def folder_circles(nodes, edges, strip):
    found = []
    for fo in sorted({folder(n) for n in nodes}):
        inside = [n for n in nodes if folder(n) == fo]
        e = [(a, b) for a, b in edges if folder(a) == fo and folder(b) == fo]
        for comp in sccs(inside, e):
            names_ = sorted(os.path.basename(c)[:-2] if strip else os.path.basename(c)
                            for c in comp)
            found.append((fo, tuple(names_), comp))
    return found

call_circles = folder_circles(mods, calls.keys(), True)
incl_circles = folder_circles(sources, includes, False)

# ---- arrows ----------------------------------------------------------
bad_arrows = []  # (kind, from, to, why, symbols)
for (x, y), syms in sorted(calls.items()):
    why = arrow_verdict(part_of(x), part_of(y))
    if why:
        bad_arrows.append(("arrow", x, y, why, sorted(syms)))
for x, y in sorted(includes):
    why = arrow_verdict(part_of(x), part_of(y))
    if why:
        bad_arrows.append(("include-arrow", x, y, why, []))

# ---- sizes -----------------------------------------------------------
big_files, big_funcs = [], []
for s in modules_c:
    with open(os.path.join(src, s), errors="replace") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_FILE:
        big_files.append((s, len(lines)))
    i = 0
    while i < len(lines):
        m = re.match(r"([A-Za-z_]\w*)\(", lines[i])
        if not m:
            i += 1
            continue
        # the parameter list (continuation lines are indented), then a '{'
        # line in column 0; a prototype or macro call ends in ';'
        j = i
        while j < len(lines) and lines[j] != "{":
            if lines[j].rstrip().endswith(";") or (
                    j > i and (lines[j] == "" or not lines[j][0].isspace())):
                break
            j += 1
        if j >= len(lines) or lines[j] != "{":
            i += 1
            continue
        k = j + 1
        while k < len(lines) and lines[k] != "}":
            k += 1
        n = k - i + 1
        if n > MAX_FUNC:
            big_funcs.append((s, m.group(1), n))
        i = k + 1

try:
    readme_lines = sum(1 for _ in open(os.path.join(src, "README.md")))
except OSError:
    readme_lines = 0

# ---- the current violations as allow-list entries --------------------
current = []  # (key, size or None, description)
for s, n in big_files:
    current.append(("file " + s, n, "%s is %d lines (at most %d)" % (s, n, MAX_FILE)))
for s, f, n in big_funcs:
    current.append(("function %s:%s" % (s, f), n,
                    "%s:%s() is %d lines (at most %d)" % (s, f, n, MAX_FUNC)))
for kind, circles, what in (("circle", call_circles, "calls"),
                            ("include-circle", incl_circles, "includes")):
    for fo, nm_, comp in circles:
        desc = "%s/ has a circle on %s: %s" % (fo, what, " ".join(nm_))
        if kind == "circle":
            desc += " (" + "; ".join(
                "%s -> %s: %s" % (os.path.basename(a), os.path.basename(b),
                                  " ".join(sorted(calls[(a, b)])[:4]))
                for a in comp for b in comp if (a, b) in calls) + ")"
        current.append(("%s %s: %s" % (kind, fo, " ".join(nm_)), None, desc))
for kind, x, y, why, syms in bad_arrows:
    desc = "%s -> %s (%s -> %s, on %s) is %s" % (
        x, y, part_of(x), part_of(y),
        "calls: " + " ".join(syms[:5]) if kind == "arrow" else "includes", why)
    current.append(("%s %s -> %s" % (kind, x, y), None, desc))

def summary(fh):
    fh.write("structure summary (%s):\n" % os.path.relpath(build, os.getcwd()))
    fh.write("  files over %d lines:      %d\n" % (MAX_FILE, len(big_files)))
    fh.write("  functions over %d lines:   %d (over 100: %d)\n" % (
        MAX_FUNC, len(big_funcs), sum(1 for b in big_funcs if b[2] > 100)))
    fh.write("  circles in folders, calls:    %d%s\n" % (len(call_circles), "".join(
        "\n      %s/: %s" % (fo, " ".join(n)) for fo, n, _ in call_circles)))
    fh.write("  circles in folders, includes: %d%s\n" % (len(incl_circles), "".join(
        "\n      %s/: %s" % (fo, " ".join(n)) for fo, n, _ in incl_circles)))
    pairs = sorted({"%s -> %s" % (part_of(x), part_of(y)) for _, x, y, _, _ in bad_arrows})
    fh.write("  forbidden arrows:  %d calls, %d includes (between parts: %s)\n" % (
        sum(1 for a in bad_arrows if a[0] == "arrow"),
        sum(1 for a in bad_arrows if a[0] == "include-arrow"),
        ", ".join(pairs) or "none"))
    fh.write("  README.md lines:   %d\n" % readme_lines)

if mode == "summary":
    summary(sys.stdout)
    sys.exit(0)
if mode == "print-allow":
    summary(sys.stderr)
    print("# Known structure violations; see scripts/README.md. Only remove lines")
    print("# (or regenerate with scripts/check-structure.sh --print-allow when a")
    print("# restructure is merged): a listed file or function may not grow.")
    for key, size, _ in sorted(current):
        print(key if size is None else "%s %d" % (key, size))
    sys.exit(0)

# ---- check against the allow-list --------------------------------------
allowed = {}  # key -> (size, line)
if os.path.exists(allow_path):
    with open(allow_path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            w = line.split()
            size = None
            if w[0] in ("file", "function"):
                if len(w) != 3 or not w[2].isdigit():
                    die("%s:%d: '%s PATH%s LINES'" % (allow_path, n, w[0],
                                                      ":NAME" if w[0] == "function" else ""))
                key, size = "%s %s" % (w[0], w[1]), int(w[2])
            elif w[0] in ("circle", "include-circle") and len(w) >= 4 and w[1].endswith(":"):
                key = "%s %s %s" % (w[0], w[1], " ".join(sorted(w[2:])))
            elif w[0] in ("arrow", "include-arrow") and len(w) == 4 and w[2] == "->":
                key = " ".join(w)
            else:
                die("%s:%d: not an entry: %s" % (allow_path, n, line))
            if key in allowed:
                die("%s:%d: listed twice: %s" % (allow_path, n, key))
            allowed[key] = (size, n)

summary(sys.stdout)
errors = []
used = set()

def circle_entry_for(key):
    """A circle is covered by an entry of the same folder that holds all its
    members (a circle that lost members is smaller, not new)."""
    kind, fo, members = key.split(" ", 2)
    mem = set(members.split())
    for k in allowed:
        kk, ff, mm = (k.split(" ", 2) + ["", ""])[:3]
        if kk == kind and ff == fo and mem <= set(mm.split()):
            return k
    return None

for key, size, desc in current:
    if key.startswith(("circle ", "include-circle ")):
        k = circle_entry_for(key)
        if k is None:
            errors.append("%s: not in the allow-list (%s)" % (desc, key))
        else:
            used.add(k)
        continue
    if key not in allowed:
        errors.append("%s: not in the allow-list" % desc)
        continue
    used.add(key)
    limit = allowed[key][0]
    if size is not None and size > limit:
        errors.append("%s: grew past its allow-list entry of %d (line %d); shorten it"
                      % (desc, limit, allowed[key][1]))
for key, (size, n) in sorted(allowed.items(), key=lambda kv: kv[1][1]):
    if key not in used:
        errors.append("%s:%d: '%s' is gone: remove it from the allow-list"
                      % (os.path.relpath(allow_path, os.getcwd()), n, key))

if errors:
    print("\nstructure check FAILED (%d):" % len(errors))
    for e in errors:
        print("  " + e)
    sys.exit(1)
print("structure check passed")
PY
