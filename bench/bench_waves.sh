#!/bin/bash
# bench_waves.sh — deployments through waves on a 1,000-host simulated fleet,
# driven with the real CLI, next to the same fleet deployed all at once in
# the same run.
#
#   bench/bench_waves.sh BUILD_DIR
#
# A real `rollwave-coordinator run` (plain TCP with Insecure=yes: TLS costs
# the connections' handshakes, not the waves; HeartbeatInterval=1s) and
# agentsim --run with BENCH_AGENTS simulated agents (default 1,000; enrolled
# with the join token and accepted over the admin socket), each keeping a
# long poll open and executing its commands: ack, BENCH_STEP_MS of simulated
# work (default 200), then the final report; the next heartbeat (every 1 s,
# as real agents at HeartbeatInterval=1s) shows the new release healthy.
# Then, with the real `rollwave` CLI:
#
#   baseline  `rollwave deploy sim 1.1.0 --strategy all-at-once
#             --min-healthy 0s --wait`: the whole fleet in one wave.
#   (a)       `rollwave deploy sim 2.0.0 --strategy rolling --batch 50
#             --bake 0s --min-healthy 0s --wait` (20 waves), wall time.
#             Orchestration overhead = wall time minus the agents' own
#             work: the slowest host's step (command received -> final
#             report queued, from agentsim's --command-log joined with the
#             tasks table) in the preflight every host runs, in the migrate
#             hook one host runs, and in each wave, summed. A breakdown
#             along the critical path (the CLI, preflight, migrate, per
#             wave dispatch, agent step, report recorded, health gate,
#             between waves; the audit log's wave times; see analyse())
#             cuts the wall time into segments that add up to it, and a
#             second line says where the heartbeats fell (the coordinator
#             judges a wave from the commits, not from a heartbeat). The
#             baseline is measured the same way.
#   (b)       `rollwave rollback sim`: from the moment the command is run to
#             the last host's committed rollback task (tasks.updated_ms, the
#             coordinator recording the host's final report), and to
#             `rollwave status ID --json` saying rolled_back (asked every
#             100 ms).
#
# Targets: (a) overhead <= 30 s; (b) <= 5 s, each printed as met or not met
# after the figures. A benchmark: it never fails on a figure; it exits
# non-zero only when something could not run. Bounded:
# every CLI call has a timeout and agentsim stops by itself after 290 s;
# the coordinator and agentsim are stopped and the work directory removed
# on exit.
#
# Environment: BENCH_AGENTS (1000), BENCH_BATCH (50), BENCH_STEP_MS (200),
# BENCH_HEARTBEAT_MS (1000: HeartbeatInterval= of coordinator and agents),
# BENCH_WORK_DIR (BUILD_DIR/bench-work: where the coordinator's database
# lives; /dev/shm takes the disk's fsync out of the figures).
set -uo pipefail

BUILD_DIR=$(readlink -f "${1:?usage: $0 BUILD_DIR}")
AGENTS=${BENCH_AGENTS:-1000}
BATCH=${BENCH_BATCH:-50}
STEP_MS=${BENCH_STEP_MS:-200}
HB_MS=${BENCH_HEARTBEAT_MS:-1000}
COORD=$BUILD_DIR/coordinator/rollwave-coordinator
SIM=$BUILD_DIR/bench/agentsim
RW_BIN=$BUILD_DIR/cli/rollwave

die() {
	echo "bench_waves: $*" >&2
	exit 1
}
for exe in "$COORD" "$SIM" "$RW_BIN"; do
	[ -x "$exe" ] || die "$exe is missing; build with -DROLLWAVE_BENCH=ON first"
done
for tool in sqlite3 jq awk; do
	command -v "$tool" >/dev/null || die "$tool is needed"
done
WORK=${BENCH_WORK_DIR:-$BUILD_DIR/bench-work}
mkdir -p "$WORK" || die "cannot create $WORK"
D=$(mktemp -d "$WORK/waves.XXXXXX") || die "no work directory"
cpid=
spid=
stop() { # stop PID: SIGTERM, then SIGKILL after 5 s
	local p=$1
	kill "$p" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}
cleanup() {
	[ -n "$spid" ] && stop "$spid"
	[ -n "$cpid" ] && stop "$cpid"
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
	die "no free port"
}
PORT=$(free_port)
cat >"$D/c.conf" <<EOF
[Coordinator]
Listen=tcp://127.0.0.1:$PORT
Insecure=yes
AdminSocket=ipc://$D/admin.sock
Database=$D/state.db
KeyFile=$D/coordinator.key
JoinTokenFile=$D/join-token
MetricsListen=
HeartbeatInterval=${HB_MS}ms
[TLS]
Certificate=$D/tls/coordinator.pem
CA=$D/tls/ca.crt
EOF
"$COORD" --config "$D/c.conf" init >/dev/null || die "rollwave-coordinator init failed"
RW() { timeout 150 "$RW_BIN" --coordinator "ipc://$D/admin.sock" "$@"; }
ms() { date +%s%3N; }
secs() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1000 }'; }
sql() { sqlite3 -separator ' ' "$D/state.db" "$@"; }

echo "-- coordinator over plain TCP (Insecure=yes; TLS would only add the handshakes), HeartbeatInterval=${HB_MS}ms"
"$COORD" --config "$D/c.conf" run >"$D/coordinator.log" 2>&1 &
cpid=$!
for _ in $(seq 100); do [ -S "$D/admin.sock" ] && break; sleep 0.1; done
[ -S "$D/admin.sock" ] || die "the coordinator did not start: $(tail -3 "$D/coordinator.log")"

echo "-- $AGENTS simulated agents (agentsim --run), app sim at 1.0.0, step ${STEP_MS} ms, heartbeat every ${HB_MS} ms"
"$SIM" --url "tcp://127.0.0.1:$PORT" --agents "$AGENTS" --token "$(cat "$D/join-token")" \
	--admin "ipc://$D/admin.sock" --interval-ms "$HB_MS" --step-ms "$STEP_MS" --app-version 1.0.0 \
	--run --duration-s 290 --ready-file "$D/ready" --command-log "$D/commands.log" \
	>"$D/agentsim.out" 2>&1 &
spid=$!
for _ in $(seq 1200); do
	[ -f "$D/ready" ] && break
	kill -0 "$spid" 2>/dev/null || die "agentsim stopped: $(cat "$D/agentsim.out")"
	sleep 0.1
done
[ -f "$D/ready" ] || die "the agents were not all welcomed within 120 s"
sim_hosts() { RW apps --json | jq '[.apps[] | select(.app == "sim") | .hosts] | add // 0'; }
up_hosts() { sql "SELECT count(*) FROM hosts WHERE state = 'up'"; }
for _ in $(seq 300); do
	[ "$(sim_hosts)" = "$AGENTS" ] && [ "$(up_hosts)" = "$AGENTS" ] && break
	sleep 0.1
done
[ "$(sim_hosts)" = "$AGENTS" ] || die "the coordinator knows app sim on $(sim_hosts) of $AGENTS hosts"
echo "enrolled: $(cat "$D/ready")"
sleep 2 # every agent's long poll parked, heartbeats in their rhythm

# deploy NAME VERSION ARGS...: runs `rollwave deploy --wait`, sets $dep
# (the deployment id), $wall_ms and $dep_t0/$dep_t1 (Unix ms just before
# the CLI started and just after it returned).
deploy() {
	local name=$1 version=$2 rc
	shift 2
	dep_t0=$(ms)
	RW deploy sim "$version" --manifest "file:///srv/releases/sim-$version.manifest" \
		"$@" --wait >"$D/$name.out" 2>&1
	rc=$?
	dep_t1=$(ms)
	wall_ms=$((dep_t1 - dep_t0))
	dep=$(RW history sim --json | jq -r '.deployments[0].deployment_id')
	# created and finished now: a later rollback finishes it again
	read -r dep_created dep_finished < <(sql "SELECT created_ms, finished_ms FROM deployments WHERE id = $dep")
	# when each wave (0-based, as tasks.wave) started and was found
	# healthy, and when the deployment ended (audit log: the time the
	# record was written, where finished_ms is the start of that tick)
	sql "SELECT action, at_ms, CASE WHEN detail LIKE 'wave %/%'
		THEN CAST(substr(detail, 6, instr(detail, '/') - 6) AS INTEGER) - 1 ELSE -1 END
		FROM audit WHERE target = 'deployment:$dep'
		AND action IN ('deploy.wave', 'deploy.wave_healthy', 'deploy.succeeded') ORDER BY id" >"$D/audit.$dep"
	echo "$name: deployment $dep, exit $rc, $(tail -1 "$D/$name.out")"
	[ "$rc" -eq 0 ] || { sed 's/^/#   /' "$D/$name.out" | tail -20; die "$name did not succeed"; }
}
# Times in the command log are Unix ms (13 digits): awk must never turn one
# into a string through its number formats (mawk prints a computed number
# with "%.6g", 1.73304e+12, and printf "%d" stops at 2^31 - 1), so the
# scripts below print them with "%.0f". Lines of commands that ran (not
# replay, refused, or a cancel's acked) give the receive and report times.
#
# waves DEP KIND: one line per wave (tasks.wave) from the command log:
#   wave hosts first_issued crit_received last_final slowest_step
#   last_received last_healthy recorded
# (crit_received: when the host whose final report came last got its
# command; slowest_step: received -> final report queued; last_healthy: the
# last host's first heartbeat showing the outcome, acknowledged, 0 if none;
# recorded: the last tasks.updated_ms, the coordinator recording a report)
waves() {
	sql "SELECT host_id, command_id, wave, updated_ms FROM tasks WHERE deployment_id = $1 AND kind = '$2'" \
		>"$D/tasks.$1.$2"
	awk 'FILENAME == ARGV[1] { w[$1 " " $2] = $3; n[$3]++; if ($4 > rec[$3]) rec[$3] = $4; next }
		($1 " " $3) in w {
			k = w[$1 " " $3]
			if (!(k in iss) || $7 < iss[k]) iss[k] = $7
			if ($6 == "replay" || $6 == "refused" || $6 == "acked") next
			if ($8 > rcv[k]) rcv[k] = $8
			if ($9 - $8 > step[k]) step[k] = $9 - $8
			if ($9 > fin[k]) { fin[k] = $9; crcv[k] = $8 }
			if ($10 > hb[k]) hb[k] = $10
		}
		END { for (k in n) printf "%s %d %.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", k, n[k], iss[k], crcv[k], fin[k], step[k], rcv[k], hb[k], rec[k] }' \
		"$D/tasks.$1.$2" "$D/commands.log" | sort -n
}
# stage DEP KIND: the same over every task of that kind, on one line
#   hosts first_issued slowest_step last_final
stage() {
	sql "SELECT host_id, command_id FROM tasks WHERE deployment_id = $1 AND kind = '$2'" \
		>"$D/tasks.$1.$2"
	awk 'FILENAME == ARGV[1] { w[$1 " " $2] = 1; n++; next }
		($1 " " $3) in w {
			if (!seen++ || $7 < iss) iss = $7
			if ($6 == "replay" || $6 == "refused" || $6 == "acked") next
			if ($9 - $8 > step) step = $9 - $8
			if ($9 > fin) fin = $9
		}
		END { printf "%d %.0f %.0f %.0f\n", n, iss, step, fin }' \
		"$D/tasks.$1.$2" "$D/commands.log"
}
# analyse DEP CREATED T0 T1: sets agent_ms (the agents' own time: the
# slowest preflight step, the migrate step and each wave's slowest step)
# and prints where the CLI's wall time (T0 -> T1) went, cut along the
# deployment's critical path at points that follow each other in time, so
# every segment is a duration >= 0 and they add up to the wall time:
#   T0 -> created (the CLI connecting and creating the deployment)
#   -> the migrate command issued (preflight: every host's check, reported
#      and recorded, at the coordinator's next 200 ms tick)
#   -> wave one's first command issued (migrate: the hook on one host)
#   per wave: -> the host whose final report came last received its
#      command (dispatch) -> it queued that report (agent step) -> the last
#      report recorded by the coordinator (tasks.updated_ms) -> the wave
#      found healthy (health gate, at the next tick: the coordinator judges
#      from the commits) -> the next wave's first command issued (between
#      waves: bake 0, next wave, its commands) or, after the last wave, the
#      deployment recorded succeeded (to the end)
#   -> T1 ('rollwave deploy --wait' asks every 1 s).
# Heartbeats are no cut point: the first one showing the new release may
# come after the verdict, so a second line says how they fell. A cut point
# earlier than the one before it (not expected) counts 0 and is reported.
analyse() {
	local pf mg
	waves "$1" deploy >"$D/waves.$1"
	pf=$(stage "$1" preflight)
	mg=$(stage "$1" migrate)
	agent_ms=$(awk -v pf="$pf" -v mg="$mg" '{ s += $6 }
		END { split(pf, p, " "); split(mg, m, " "); printf "%.0f\n", s + p[3] + m[3] }' "$D/waves.$1")
	awk -v c="$2" -v t0="$3" -v t1="$4" -v pf="$pf" -v mg="$mg" '
		function at(t, what) {
			if (t < last) { bad++; badwhat = badwhat " " what; t = last }
			dt = t - last; last = t
			return dt
		}
		function s(x) { return sprintf("%.2f s", x / 1000) }
		FILENAME == ARGV[1] {
			if ($1 == "deploy.wave_healthy") ok[$3] = $2
			else if ($1 == "deploy.succeeded") e = $2
			next
		}
		{ n++; wv[n] = $1; i[n] = $3; cr[n] = $4; fi[n] = $5; h[n] = $8; rc[n] = $9 }
		END {
			split(pf, p, " "); split(mg, m, " ")
			last = t0
			cli = at(c, "created")
			if (p[1]) pre = at(m[1] ? m[2] : i[1], "preflight")
			if (m[1]) mig = at(i[1], "migrate")
			if (!p[1] && !m[1]) pre = at(i[1], "start")
			for (k = 1; k <= n; k++) {
				if (k > 1) nx += at(i[k], "wave" k)
				d += at(cr[k], "received" k); st += at(fi[k], "reported" k)
				rec += at(rc[k], "recorded" k); gate += at(ok[wv[k]], "healthy" k)
				if (h[k] > ok[wv[k]]) { late++; lateby += h[k] - ok[wv[k]] }
				else if (h[k]) early++
			}
			end = at(e, "succeeded"); wait = at(t1, "cli-returned")
			printf "rollwave deploy to created %s + ", s(cli)
			if (p[1] || m[1])
				printf "preflight on %d hosts %s (slowest step %s) + migrate on %d host %s (step %s)", p[1], s(pre), s(p[3]), m[1], s(mig), s(m[3])
			else
				printf "start %s", s(pre)
			printf " + %d wave%s (dispatch %s + agent steps %s + reports recorded %s + health gate %s + between waves %s + to the end %s) + until --wait returned %s = wall %s", n, n == 1 ? "" : "s", s(d), s(st), s(rec), s(gate), s(nx), s(end), s(wait), s(t1 - t0)
			if (bad) printf " (%d cut point(s) out of order, counted 0:%s)", bad, badwhat
			printf "\n"
			printf "heartbeats: the last one showing a wave'"'"'s release came after the wave was found healthy in %d of %d waves (%s later on average)", late, n, s(late ? lateby / late : 0)
			if (early) printf ", before it in %d (it may gate those: inside the health gate)", early
			if (n - late - early) printf ", never in %d", n - late - early
			printf "%s\n", n && late == n ? ": off the critical path, the coordinator judges a wave from the agents'"'"' commits" : ""
		}' "$D/audit.$1" "$D/waves.$1"
}

echo "-- baseline: all $AGENTS hosts in one wave (all-at-once)"
deploy all_at_once 1.1.0 --strategy all-at-once --min-healthy 0s
base_wall=$wall_ms
base_dep=$dep
base_created=$dep_created
base_t0=$dep_t0
base_t1=$dep_t1

echo "-- (a) rolling: $AGENTS hosts in batches of $BATCH, no bake, MinHealthy=0s"
deploy rolling 2.0.0 --strategy rolling --batch "$BATCH" --bake 0s --min-healthy 0s
roll_wall=$wall_ms
roll_dep=$dep
roll_created=$dep_created
roll_finished=$dep_finished
roll_t0=$dep_t0
roll_t1=$dep_t1
[ "$(sql "SELECT count(*) FROM tasks WHERE deployment_id = $dep AND kind = 'deploy' AND state = 'committed'")" = "$AGENTS" ] ||
	die "not every host committed 2.0.0"

echo "-- (b) coordinated rollback of the $AGENTS hosts: rollwave rollback sim"
t0=$(ms)
RW rollback sim --json >"$D/rollback.json" 2>&1 || die "rollwave rollback failed: $(tail -3 "$D/rollback.json")"
t_cli=$(($(ms) - t0))
t_final=
for _ in $(seq 1200); do
	st=$(RW status "$roll_dep" --json | jq -r .state)
	case $st in rolled_back | failed | aborted | succeeded)
		t_final=$(($(ms) - t0))
		break
		;;
	esac
	sleep 0.1
done
[ -n "$t_final" ] || die "the rollback did not end within 120 s"
[ "$st" = rolled_back ] || echo "warning: deployment $roll_dep ended $st"
rb_done=$(sql "SELECT count(*) FROM tasks WHERE deployment_id = $roll_dep AND kind = 'rollback' AND state = 'committed'")
rb_last=$(($(sql "SELECT max(updated_ms) FROM tasks WHERE deployment_id = $roll_dep AND kind = 'rollback'") - t0))
sleep 1.5 # the rolled back hosts' next heartbeat, for the command log

# agentsim writes the rest of its command log when it stops
stop "$spid"
spid=
echo "agentsim: $(cat "$D/agentsim.out")"
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$cpid/status" 2>/dev/null)

analyse "$base_dep" "$base_created" "$base_t0" "$base_t1" >"$D/analysis.base"
base_step=$agent_ms
sed 's/^/all-at-once: /' "$D/analysis.base"
analyse "$roll_dep" "$roll_created" "$roll_t0" "$roll_t1" >"$D/analysis.roll"
roll_step=$agent_ms
n_waves=$(wc -l <"$D/waves.$roll_dep")
sed 's/^/rolling: /' "$D/analysis.roll"
echo "rolling: deployment finished $(secs $((roll_finished - roll_created))) s after it was created; 'rollwave deploy --wait' took $(secs "$roll_wall") s (it asks every 1 s)"
waves "$roll_dep" rollback >"$D/waves.rb"
rb_first_issued=$(($(awk '$3 > 0 && (m == "" || $3 < m) { m = $3 } END { printf "%.0f\n", m }' "$D/waves.rb") - t0))
rb_last_recv=$(($(awk '$7 > m { m = $7 } END { printf "%.0f\n", m }' "$D/waves.rb") - t0))
rb_last_final=$(($(awk '$5 > m { m = $5 } END { printf "%.0f\n", m }' "$D/waves.rb") - t0))
echo "rollback: $rb_done of $AGENTS hosts committed; 'rollwave rollback' returned after $t_cli ms;" \
	"first command issued at $rb_first_issued ms, last received at $rb_last_recv ms," \
	"last final report queued at $rb_last_final ms, recorded committed at $rb_last ms; status $st at $t_final ms"

echo "-- figures"
echo "rolling_overhead_s = $(secs $((roll_wall - roll_step))) (target <= 30; wall $(secs "$roll_wall") s of 'rollwave deploy --wait' minus $(secs "$roll_step") s of agent steps: the slowest host's step in preflight, migrate and each of $n_waves waves, summed)"
echo "rolling_wall_s = $(secs "$roll_wall") (target: none; $AGENTS hosts, $n_waves waves of $BATCH, step $STEP_MS ms, heartbeat ${HB_MS} ms)"
echo "rollback_last_host_s = $(secs "$rb_last") (target <= 5; 'rollwave rollback sim' -> the last of $rb_done hosts' rollback recorded committed, incl. its $STEP_MS ms step)"
echo "rollback_status_s = $(secs "$t_final") (target <= 5; until 'rollwave status --json' says $st, asked every 100 ms)"
echo "all_at_once_overhead_s = $(secs $((base_wall - base_step))) (target: none, baseline: the same $AGENTS hosts in one wave, measured the same way: wall $(secs "$base_wall") s minus $(secs "$base_step") s of agent steps)"
[ -n "$rss" ] && echo "coordinator_rss_mib = $((rss / 1024))"
# whether each target is met, on the figure as printed (never an exit code)
met() {
	awk -v n="$1" -v v="$2" -v l="$3" 'BEGIN { printf "%s <= %s: %s\n", n, l, v + 0 <= l + 0 ? "met" : "not met" }'
}
echo "-- targets"
met rolling_overhead_s "$(secs $((roll_wall - roll_step)))" 30
met rollback_last_host_s "$(secs "$rb_last")" 5
met rollback_status_s "$(secs "$t_final")" 5
exit 0
