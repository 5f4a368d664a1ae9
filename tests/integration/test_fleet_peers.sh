#!/bin/bash
# Blue-green traffic switches and metric gates against the real peers
# (DESIGN.md, "Real components in tests"), on four test hosts with real
# systemd (tests/harness/fleet.sh): h1, h2 color=blue, h3, h4 color=green.
# On the machine, on 127.0.0.1:
#   - a real Prometheus 2.42 scraping the sample app on every host (:8080,
#     /metrics, every second), which the deployments' metric gate queries;
#   - a real HAProxy 2.6 whose frontend routes by a map entry (sample ->
#     sample_blue | sample_green), switched through its runtime API by the
#     shipped traffic command packaging/traffic/rollwave-haproxy-switch;
#   - tests/harness/loadgen.py sending 20 requests/s through HAProxy and
#     counting answers by status code and by the version that served them.
# Scenarios:
#   a. 1.0.0 everywhere; traffic to blue with the switch script (whose
#      refusals are checked against the real HAProxy too);
#   b. blue-green 2.0.0 (--live-color blue) with an error-ratio gate: green
#      installs, traffic switches, the gate passes on real traffic; not one
#      request failed across the switch; blue keeps 1.0.0;
#   c. blue-green 3.0.0, a release failing 30 % of its requests while
#      /health stays 200, without --live-color (the coordinator remembers
#      green is live): blue installs, traffic switches to blue, Prometheus
#      sees the error ratio, the gate fails, traffic goes back to green and
#      blue rolls back; the gate's measured value is in the audit log;
#   d. blue-green 4.0.0, then `rollwave rollback sample`: traffic is back on
#      green's 2.0.0 within seconds, blue returns to 1.0.0, no request fails.
#
#   tests/integration/test_fleet_peers.sh BUILD_DIR
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
export BUILD_DIR
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/harness/testhost.sh"
source "$SRC/tests/harness/sample-host.sh"
source "$SRC/tests/harness/fleet.sh"
# Test hosts see the machine's disk but not its /tmp, /run or /srv: every
# work file lives under the build directory.
W=$(mktemp -d "$BUILD_DIR/rw-fleet-peers.XXXXXX")
passed=0
failed=0
PROM_PID= HAP_PID= LOAD_PID=
# stop_job PID: SIGTERM, then SIGKILL after 5 s; reaps it.
stop_job() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do
		case $(ps -o stat= -p "$pid" 2>/dev/null) in "" | Z*) break ;; esac
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	stop_job "$LOAD_PID"
	stop_job "$HAP_PID"
	stop_job "$PROM_PID"
	LOAD_PID= HAP_PID= PROM_PID=
	fleet_stop
	th_teardown_all
	if [ "$failed" -eq 0 ] && [ "${ROLLWAVE_KEEP_WORK:-0}" != 1 ]; then rm -rf "$W" "$TH_RUN_DIR"; else echo "# work files kept in $W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source "$(dirname "$0")/../harness/checks.sh"
WAIT_STEP=0.3

for tool in /usr/bin/prometheus /usr/sbin/haproxy socat python3 curl jq sqlite3; do
	command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (scripts/install-deps.sh)"; failed=1; exit 1; }
done

RWT() { timeout 240 "$BUILD_DIR/cli/rollwave" --coordinator "ipc://$W/admin.sock" "$@"; }
switch_backs() { sqlite3 "$W/state.db" "SELECT count(*) FROM audit WHERE action = 'deploy.switch_back' AND target = 'deployment:$1'"; }
had() { # had VERSION HOST...: VERSION's release dir is on each host
	local v=$1 h
	shift
	for h in "$@"; do th_exec "$h" test -d "/srv/sample/releases/$v" || { echo "  $h has no $v" >&2; return 1; }; done
}
ms() { date +%s%3N; }
show_if() { [ "$1" = "$2" ] || echo "$out" | sed 's/^/#   /'; } # show_if RC WANTED: $out, when RC is not WANTED

# ---- the fleet ----
ALL="h1 h2 h3 h4"
BLUE="h1 h2"
GREEN="h3 h4"
fleet_init "$W" || { echo "not ok - fleet_init"; exit 1; }
declare -A labels=([h1]=color=blue [h2]=color=blue [h3]=color=green [h4]=color=green)
for h in $ALL; do
	fleet_host "$h" "${labels[$h]}" || { echo "not ok - host $h"; exit 1; }
done
check "the coordinator starts" fleet_coordinator_start
check "four agents, run by systemd, enrol and are accepted" fleet_accept 4
for v in 1.0.0 2.0.0 4.0.0; do fleet_release $v || { echo "not ok - release $v"; exit 1; }; done
fleet_release 3.0.0 errors=0.3 || { echo "not ok - release 3.0.0"; exit 1; }

# ---- Prometheus, scraping the sample app on every host ----
# The run's own ports (fleet_init took the net id; the coordinator has 0).
PPORT=$(th_port 1)
HPORT=$(th_port 2)
{
	echo "global:"
	echo "  scrape_interval: 1s"
	echo "  scrape_timeout: 900ms"
	echo "  evaluation_interval: 1s"
	echo "scrape_configs:"
	echo "  - job_name: sample"
	echo "    static_configs:"
	echo "      - targets: [$(for h in $ALL; do printf "'%s:8080'," "$(th_ip "$h")"; done | sed 's/,$//')]"
} >"$W/prometheus.yml"
/usr/bin/prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/prometheus" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$W/prometheus.log" 2>&1 &
PROM_PID=$!
PROM=http://127.0.0.1:$PPORT
prom_ready() { curl -sf --noproxy '*' --max-time 2 "$PROM/-/ready" >/dev/null; }
# promq QUERY: the first sample's value, empty without one.
promq() {
	curl -s --noproxy '*' --max-time 3 -G "$PROM/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty'
}
wait_for 30 prom_ready
rc=$?
check "Prometheus 2.42 starts on 127.0.0.1:$PPORT" eq "$rc" 0
[ "$rc" = 0 ] || { sed 's/^/#   /' "$W/prometheus.log"; exit 1; }

# ---- HAProxy: blue and green backends, the live one named by a map ----
SOCK=$W/haproxy.sock
MAP=$W/live.map
: >"$MAP"
servers() { local h; for h in "$@"; do echo "    server $h $(th_ip "$h"):8080 check inter 500ms fall 2 rise 1"; done; }
cat >"$W/haproxy.cfg" <<EOF
global
    stats socket $SOCK mode 600 level admin
    stats timeout 10s
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option httpchk GET /health
frontend sample
    bind 127.0.0.1:$HPORT
    use_backend %[str(sample),map($MAP,sample_blue)]
backend sample_blue
$(servers $BLUE)
backend sample_green
$(servers $GREEN)
EOF
check "the HAProxy configuration is valid" /usr/sbin/haproxy -c -q -f "$W/haproxy.cfg"
/usr/sbin/haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
HAP_PID=$!
api() { printf '%s\n' "$1" | socat -t 5 - "UNIX-CONNECT:$SOCK"; }
hap_ready() { api "show info" | grep -q '^Version: 2\.'; }
wait_for 20 hap_ready
rc=$?
check "HAProxy 2.6 starts on 127.0.0.1:$HPORT, runtime API on its socket" eq "$rc" 0
[ "$rc" = 0 ] || { sed 's/^/#   /' "$W/haproxy.log"; exit 1; }
live_backend() { api "show map $MAP" | awk '$2 == "sample" { print $3 }'; }
via_haproxy() { curl -s --noproxy '*' --max-time 3 "http://127.0.0.1:$HPORT/"; }
serves() { # serves VERSION: five answers in a row through HAProxy are "hello from VERSION"
	for _ in 1 2 3 4 5; do eq "$(via_haproxy)" "hello from $1" || return 1; done
}

# ---- traffic through HAProxy ----
load_start() { # load_start NAME: loadgen until load_stop NAME (or 120 s)
	rm -f "$W/load-$1.stop" "$W/load-$1.json"
	python3 "$SRC/tests/harness/loadgen.py" --url "http://127.0.0.1:$HPORT/" \
		--out "$W/load-$1.json" --stop-file "$W/load-$1.stop" --rate 20 --deadline 120 \
		>"$W/load-$1.log" 2>&1 &
	LOAD_PID=$!
}
load_stop() {
	touch "$W/load-$1.stop"
	wait "$LOAD_PID" 2>/dev/null
	LOAD_PID=
	[ -s "$W/load-$1.json" ] || echo '{}' >"$W/load-$1.json"
}
lg() { jq -r "$2" "$W/load-$1.json"; }
# no_failures NAME: every request of the run was answered 200
no_failures() {
	local sent bad
	sent=$(lg "$1" '.sent // 0') bad=$(lg "$1" '[.codes // {} | to_entries[] | select(.key != "200") | .value] | add // 0')
	[ "$sent" -ge 100 ] || { echo "  only $sent requests sent" >&2; return 1; }
	eq "$bad" 0 || { echo "  answers: $(jq -c '{by, errors}' "$W/load-$1.json")" >&2; return 1; }
}
served_by() { eq "$(lg "$1" '[.changes[]?[1]] | join(" ")')" "$2"; }

# The blue-green options every deployment below uses: HAProxy switched by
# the shipped script, and an error-ratio gate on what Prometheus scraped.
SWITCH="$SRC/packaging/traffic/rollwave-haproxy-switch --socket $SOCK --map $MAP --key %a %c"
FAST="--min-healthy 2s --wave-timeout 60s"
# The new version's share of requests to / answered 500, over 10 s; the
# coordinator fills in ${app} (the scrape job is named after the app) and
# ${version}. Bake= first: the gate judges 8 s of traffic, not the first
# requests (an errors=0.3 release answers its first three requests 200).
GATE_QUERY='sum(rate(rollwave_sample_requests_total{job="${app}",version="${version}",code="500"}[10s])) / sum(rate(rollwave_sample_requests_total{job="${app}",version="${version}"}[10s]))'
GATE=(--prometheus-url "$PROM" --set "Gate.errors.Query=$GATE_QUERY"
	--set Gate.errors.Condition=max\<0.05 --set Gate.errors.NoData=hold --bake 8s)

# ---- a. 1.0.0 everywhere, traffic on blue ----
out=$(RWT deploy sample 1.0.0 --manifest "$(fleet_manifest 1.0.0)" --strategy all-at-once $FAST --wait 2>&1)
rc=$?
check "1.0.0 all at once" eq "$rc" 0
show_if "$rc" 0
check "... every host runs and serves 1.0.0" on 1.0.0 $ALL
targets_up() { eq "$(promq 'count(up{job="sample"} == 1)')" 4; }
check "Prometheus scrapes the sample app on the four hosts" wait_for 20 targets_up
builds() { eq "$(promq "count(rollwave_sample_build_info{version=\"$1\"})")" "$2"; }
check "... and sees 1.0.0 on all of them" wait_for 10 builds 1.0.0 4

sw() { "$SRC/packaging/traffic/rollwave-haproxy-switch" "$@"; }
out=$(sw --socket "$SOCK" --map "$MAP" --key sample purple 2>&1)
check "the switch script refuses a bad color (exit 2), naming it" eq "$?:$(has "$out" "bad color 'purple'" && echo y)" 2:y
out=$(sw --socket "$W/nope.sock" --map "$MAP" --key sample blue 2>&1)
check "... a missing socket (exit 1), naming it" eq "$?:$(has "$out" "socket $W/nope.sock missing" && echo y)" 1:y
out=$(sw --socket "$SOCK" --map "$W/other.map" --key sample blue 2>&1)
check "... a map HAProxy does not know (exit 1), naming it and the maps it knows" \
	eq "$?:$(has "$out" "unknown map $W/other.map: .*$MAP" && echo y)" 1:y
out=$(sw --socket "$SOCK" --map "$MAP" --key sample --backend 'web_%c' blue 2>&1)
check "... a color without a backend (exit 1), naming it" eq "$?:$(has "$out" "no backend 'web_blue'" && echo y)" 1:y
check "... and changed nothing" eq "$(live_backend):$(cat "$MAP")" ":"
out=$(sw --socket "$SOCK" --map "$MAP" --key sample blue 2>&1)
rc=$?
check "the switch script puts traffic on blue" eq "$rc" 0
show_if "$rc" 0
check "... HAProxy's map says sample_blue" eq "$(live_backend)" sample_blue
check "... and so does the map file, for a reload" eq "$(cat "$MAP")" "sample sample_blue"
check "... HAProxy serves 1.0.0" serves 1.0.0

# ---- b. blue-green 2.0.0 with a metric gate, under traffic ----
load_start b
out=$(RWT deploy sample 2.0.0 --manifest "$(fleet_manifest 2.0.0)" --strategy blue-green \
	--live-color blue --traffic-command "$SWITCH" "${GATE[@]}" $FAST --wait 2>&1)
rc=$?
check "blue-green of 2.0.0 with a gate on the real Prometheus exits 0" eq "$rc" 0
show_if "$rc" 0
sleep 1
load_stop b
dep=$(latest)
check "... green (h3, h4) runs and serves 2.0.0" on 2.0.0 $GREEN
check "... blue keeps 1.0.0 for an instant switch-back" on 1.0.0 $BLUE
check "... HAProxy's map says sample_green, and so does the file" eq "$(live_backend) $(cat "$MAP")" "sample_green sample sample_green"
check "... HAProxy serves 2.0.0" serves 2.0.0
check "... the switch ran the shipped script (audit)" has "$(audit deploy.switch "$dep")" "rollwave-haproxy-switch .* green"
check "... the gate passed on what Prometheus measured" has "$(audit deploy.gate "$dep")" "gate 'errors' pass: max of [0-9]+ samples? = 0 "
check "... on real traffic: Prometheus counted 2.0.0's answers" test "$(promq 'sum(rollwave_sample_requests_total{version="2.0.0",code="200"})' | cut -d. -f1)" -gt 20
check "... loadgen: not one request failed across the switch ($(lg b .sent) sent)" no_failures b
check "... served by 1.0.0, then 2.0.0 only" served_by b "1.0.0 2.0.0"

# ---- c. 3.0.0 fails 30 % of requests: the gate catches it after the switch ----
out=$(rwc plan sample 3.0.0 --strategy blue-green --traffic-command "$SWITCH" --json 2>&1)
waves=$(jq -r '[.waves[].name] | join(", ")' <<<"$out" 2>/dev/null)
check "without --live-color the coordinator knows green is live: 3.0.0 is planned on blue" \
	eq "$waves" "blue, switch to blue"
show_if "$waves" "blue, switch to blue"
load_start c
out=$(RWT deploy sample 3.0.0 --manifest "$(fleet_manifest 3.0.0)" --strategy blue-green \
	--traffic-command "$SWITCH" "${GATE[@]}" $FAST --wait 2>&1)
rc=$?
check "blue-green of 3.0.0 (30 % of requests fail, /health fine) exits 1" eq "$rc" 1
show_if "$rc" 1
sleep 1
load_stop c
dep=$(latest)
check "... rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... because the gate failed" has "$(field "$dep" .reason)" "gate 'errors' fail"
gate_detail=$(rwc events --since 10m --limit 1000 --json | jq -r --arg t "deployment:$dep" \
	'[.events[] | select(.target == $t and .action == "deploy.gate") | .detail | select(test("fail"))] | last // ""')
check "... the audit log holds the gate's measured error ratio (about 0.3)" \
	has "$gate_detail" "max of [0-9]+ samples? = 0\.(2[5-9]|3[0-5])[0-9]* not < 0.05"
echo "#   $gate_detail"
check "... blue (h1, h2) had 3.0.0 on disk" had 3.0.0 $BLUE
check "... the traffic command switched back once" eq "$(switch_backs "$dep")" 1
check "... traffic went to blue, then back to green" \
	has "$(audit deploy.switch "$dep") / $(audit deploy.switch_back "$dep")" "blue.* / .*green"
check "... HAProxy's map says sample_green again, and so does the file" eq "$(live_backend) $(cat "$MAP")" "sample_green sample sample_green"
check "... HAProxy serves 2.0.0 again" serves 2.0.0
check "... blue rolled back to 1.0.0" on 1.0.0 $BLUE
check "... green kept 2.0.0" on 2.0.0 $GREEN
check "... loadgen: 2.0.0, then 3.0.0, then 2.0.0 again" served_by c "2.0.0 3.0.0 2.0.0"
check "... 3.0.0 answered 500 to some (the bug the gate saw)" test "$(lg c '.by["500 3.0.0"] // 0')" -gt 0
check "... and no request failed otherwise" eq "$(lg c '[.by | keys[] | select(. != "200 2.0.0" and . != "200 3.0.0" and . != "500 3.0.0")] | join(",")')" ""

# ---- d. a good 4.0.0, then `rollwave rollback sample`: instant switch-back ----
load_start d
out=$(RWT deploy sample 4.0.0 --manifest "$(fleet_manifest 4.0.0)" --strategy blue-green \
	--traffic-command "$SWITCH" $FAST --wait 2>&1)
rc=$?
check "blue-green of 4.0.0 without --live-color exits 0" eq "$rc" 0
show_if "$rc" 0
dep=$(latest)
check "... blue (h1, h2) runs and serves 4.0.0" on 4.0.0 $BLUE
check "... HAProxy serves 4.0.0 from blue" eq "$(live_backend):$(serves 4.0.0 && echo y)" sample_blue:y
t0=$(ms)
out=$(rwc rollback sample 2>&1)
rc=$?
check "rollwave rollback sample is accepted" eq "$rc" 0
show_if "$rc" 0
check "... HAProxy serves green's 2.0.0 within 5 s" wait_for 5 serves 2.0.0
echo "#   switched back $(($(ms) - t0)) ms after the request"
check "... the deployment ends" wait_for 60 ended "$dep"
sleep 1
load_stop d
check "... rolled_back" eq "$(field "$dep" .state)" rolled_back
check "... the switch back is in the audit log" has "$(audit deploy.switch_back "$dep")" "green"
check "... the traffic command switched back once" eq "$(switch_backs "$dep")" 1
check "... HAProxy's map says sample_green, and so does the file" eq "$(live_backend) $(cat "$MAP")" "sample_green sample sample_green"
check "... blue is back on 1.0.0" on 1.0.0 $BLUE
check "... green kept 2.0.0" on 2.0.0 $GREEN
check "... loadgen: not one request failed ($(lg d .sent) sent)" no_failures d
check "... served by 2.0.0, 4.0.0, then 2.0.0 again" served_by d "2.0.0 4.0.0 2.0.0"

check "no daemon crashed" bash -c "! grep -qi 'sanitizer\|segfault' '$W/coordinator.log'"
check "Prometheus and HAProxy ran to the end" kill -0 "$PROM_PID" "$HAP_PID"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
