#!/usr/bin/env python3
"""loadgen.py: steady HTTP GET traffic for rollwave's end-to-end tests.

    loadgen.py --url http://127.0.0.1:8400/ --out counts.json \
               --stop-file stop [--rate 20] [--deadline 120] [--timeout 2]

Sends one GET to URL every 1/RATE seconds (one at a time, on a fixed
schedule: a slow answer delays the next request but never causes a burst)
until STOP-FILE exists or DEADLINE seconds have passed, whichever comes
first, so it always stops by itself. Proxies from the environment are
ignored.

OUT (JSON, rewritten atomically every half second and at the end, "done"
true once stopped) counts the answers:
  sent       requests sent
  codes      {"200": n, "500": n, ...}; a request that got no HTTP answer
             counts under "error" (reason in "errors")
  errors     {"ConnectionRefusedError: ...": n, "timeout": n, ...}
  versions   {"2.0.0": n, ...}: the last word of each answer's body
             ("hello from 2.0.0", "error from 3.0.0")
  by         {"200 2.0.0": n, "500 3.0.0": n, "error -": n}: code and version
  changes    [[seconds since start, version], ...] each time the serving
             version changed
  last_version, started (epoch seconds), elapsed, done, stopped_by
             ("stop-file" or "deadline")
Exit status 0 once stopped (2: bad command line).
"""
import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def parse_args():
    ap = argparse.ArgumentParser(description="steady HTTP GET traffic, counted")
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--rate", type=float, default=20.0, help="requests per second")
    ap.add_argument("--deadline", type=float, default=120.0, help="seconds, at most")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per request")
    a = ap.parse_args()
    if not 0 < a.rate <= 1000:
        ap.error("--rate takes 0 < RATE <= 1000")
    if not 0 < a.deadline <= 3600:
        ap.error("--deadline takes 0 < SECONDS <= 3600")
    if not 0 < a.timeout <= 60:
        ap.error("--timeout takes 0 < SECONDS <= 60")
    return a


def version_of(body):
    words = body.decode("utf-8", "replace").split()
    return words[-1] if words else "-"


def main():
    a = parse_args()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    started = time.time()
    t0 = time.monotonic()
    stats = {
        "url": a.url,
        "sent": 0,
        "codes": {},
        "errors": {},
        "versions": {},
        "by": {},
        "changes": [],
        "last_version": None,
        "started": started,
        "elapsed": 0.0,
        "done": False,
        "stopped_by": None,
    }

    def bump(d, k):
        d[k] = d.get(k, 0) + 1

    def write():
        stats["elapsed"] = round(time.monotonic() - t0, 3)
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, a.out)

    period = 1.0 / a.rate
    next_at = t0
    last_write = 0.0
    while True:
        now = time.monotonic()
        if os.path.exists(a.stop_file):
            stats["stopped_by"] = "stop-file"
            break
        if now - t0 >= a.deadline:
            stats["stopped_by"] = "deadline"
            break
        if now < next_at:
            time.sleep(min(next_at - now, 0.05))
            continue
        # Behind schedule: go on from now rather than bursting to catch up.
        next_at = max(next_at + period, now)
        stats["sent"] += 1
        code, version = "error", "-"
        try:
            with opener.open(a.url, timeout=a.timeout) as r:
                code, version = str(r.status), version_of(r.read())
        except urllib.error.HTTPError as e:
            code = str(e.code)
            try:
                version = version_of(e.read())
            except Exception:  # the body is a bonus
                pass
        except (socket.timeout, TimeoutError):
            bump(stats["errors"], "timeout")
        except Exception as e:  # any other failure is a failed request
            bump(stats["errors"], "%s: %s" % (type(e).__name__, e))
        bump(stats["codes"], code)
        bump(stats["by"], "%s %s" % (code, version))
        if code != "error":
            bump(stats["versions"], version)
            if version != stats["last_version"]:
                stats["changes"].append([round(time.monotonic() - t0, 3), version])
                stats["last_version"] = version
        if time.monotonic() - last_write >= 0.5:
            write()
            last_write = time.monotonic()
    stats["done"] = True
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
