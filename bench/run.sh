#!/usr/bin/env bash
# Load benchmark: hookguard (verifying every request) against nginx (passing
# requests through), both in front of the same minimal upstream, on loopback;
# with 1 KiB bodies also hookguard with the Redis replay store and hookguard in
# queue mode (202 once spooled, delivered later), and as a reference the "floor":
# the same HTTP stack (hyper + tokio) proxying with no verification and no log
# (examples/bench_bare_proxy.rs). Method and results: bench/README.md.
#
#   bench/run.sh                 # full run: 10 s per run, 3 rounds per body size (nginx, floor,
#                                #   hookguard, then for 1 KiB hookguard-redis, hookguard-queue)
#   bench/run.sh --quick         # smoke run: a few seconds in total
#   bench/run.sh --duration 20 --rounds 5 --keep
#
# Needs nginx, wrk, redis-server (Debian: apt-get install nginx wrk redis-server),
# python3 and cargo; installs nothing. Every process it starts is stopped on
# exit; every wait is bounded. Exits non-zero when any check fails (a non-2xx
# answer, a request that did not reach the upstream, too few pre-generated
# requests, a queued webhook not delivered within 60 s).
set -euo pipefail

DURATION=10 ROUNDS=3 CONNS=64 IDLE_CONNS=10000 REPLAY_KEYS=1000000 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DURATION=2 ROUNDS=1 IDLE_CONNS=1000 REPLAY_KEYS=100000 ;;
    --duration) DURATION="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS=(python3 "$ROOT/bench/tools.py")

missing=()
for tool in nginx wrk redis-server python3 cargo; do
  command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing: ${missing[*]}" >&2
  echo "bench: on Debian/Ubuntu: sudo apt-get install nginx wrk redis-server python3 (and cargo from rustup.rs)" >&2
  exit 2
fi
NGINX="$(PATH="$PATH:/usr/sbin" command -v nginx)"
REDIS="$(PATH="$PATH:/usr/sbin" command -v redis-server)"

# 10,000 idle connections need as many descriptors (children inherit this).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 100)) ]; then
  echo "bench: ulimit -n is $(ulimit -n); the idle-connection test will use fewer connections" >&2
  IDLE_CONNS=$(( $(ulimit -n) - 100 ))
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/hookguard-bench.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then echo "bench: files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime, all threads
CLK_TCK="$(getconf CLK_TCK)"
vm() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
wait_port() { # port seconds
  for _ in $(seq $(($2 * 100))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.01
  done
  log "nothing accepted on 127.0.0.1:$1 within $2 s"; return 1
}

log "building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin hookguard --example bench_upstream --example bench_replay_mem \
  --example bench_bare_proxy)
TARGET="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"

# --- upstream -----------------------------------------------------------------
"$TARGET/examples/bench_upstream" 127.0.0.1:0 >"$WORK/upstream.out" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
for _ in $(seq 500); do grep -q '^listening' "$WORK/upstream.out" && break; sleep 0.01; done
UP_ADDR="$(awk '/^listening/ { print $2 }' "$WORK/upstream.out")"
[ -n "$UP_ADDR" ] || { log "upstream did not start"; cat "$WORK/upstream.out" >&2; exit 1; }
upstream_count() { "${TOOLS[@]}" get "http://$UP_ADDR/count"; }

# --- nginx --------------------------------------------------------------------
mkdir -p "$WORK/nginx/logs"
nginx_config() { # port
  cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log $WORK/nginx/logs/access.log;
  client_max_body_size 1m;
  client_body_buffer_size 128k;   # keep 64 KiB bodies in memory, as hookguard does
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream app {
    server $UP_ADDR;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
}

# --- redis (replay store of hookguard-redis) ------------------------------------
REDIS_PORT="$("${TOOLS[@]}" port)"
"$REDIS" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT" 10

# --- hookguard ----------------------------------------------------------------
SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export HOOKGUARD_BENCH_SECRET="$SECRET"
export TOKIO_WORKER_THREADS=1
ROUTE=/webhooks/bench
hookguard_config() { # port file [store] [delivery]
  cat >"$2" <<CONF
[server]
listen = "127.0.0.1:$1"
max_body = "1MiB"

[upstream]
url = "http://$UP_ADDR"

[replay]
ttl = "24h"
store = "${3:-memory}"

[spool]
dir = "$WORK/spool-$1"

[log]
format = "json"

[[route]]
path = "$ROUTE"
provider = "hmac"
delivery = "${4:-forward}"
secrets = ["env:HOOKGUARD_BENCH_SECRET"]
[route.hmac]
algorithm = "sha256"
header = "X-Signature"
encoding = "hex"
timestamp_header = "X-Timestamp"
id_header = "X-Event-Id"
signed = "{id}.{timestamp}.{body}"
CONF
}
start_hookguard() { # port config log -> "pid ms"
  "${TOOLS[@]}" startup "$1" "$3" -- "$TARGET/hookguard" serve -c "$2"
}
# --- one fresh process of the system under test per run -----------------------
# Every run starts the system it measures and stops it afterwards (nginx too),
# so rounds are independent samples and a run's peak RSS is that run's: for
# hookguard it includes the replay keys of the requests of that run, not those
# of every earlier run (the replay store's growth is measured on its own below).
start_system() { # system -> sets PORT, PID (the process measured), STOP_PID
  PORT="$("${TOOLS[@]}" port)"
  case "$1" in
    nginx)
      nginx_config "$PORT"
      "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >>"$WORK/nginx/stdout.log" 2>&1 &
      STOP_PID=$!
      PIDS+=("$STOP_PID")
      wait_port "$PORT" 10
      PID="$(ps -o pid= --ppid "$STOP_PID" | head -n1 | tr -d ' ')"
      [ -n "$PID" ] || { log "no nginx worker found"; exit 1; }
      ;;
    floor)
      # The HTTP stack alone (examples/bench_bare_proxy.rs): what hookguard's
      # hyper + tokio cost per request before it verifies or logs anything.
      "$TARGET/examples/bench_bare_proxy" "127.0.0.1:$PORT" "$UP_ADDR" >"$WORK/floor.out" 2>&1 &
      STOP_PID=$!
      PID=$STOP_PID
      PIDS+=("$PID")
      wait_port "$PORT" 10
      ;;
    hookguard*)
      case "$1" in
        hookguard) hookguard_config "$PORT" "$WORK/$1.toml" ;;
        hookguard-redis) hookguard_config "$PORT" "$WORK/$1.toml" "redis://127.0.0.1:$REDIS_PORT/0" ;;
        hookguard-queue) hookguard_config "$PORT" "$WORK/$1.toml" memory queue ;;
      esac
      "$TARGET/hookguard" check -c "$WORK/$1.toml" >/dev/null
      read -r PID START_MS < <(start_hookguard "$PORT" "$WORK/$1.toml" "$WORK/$1.log")
      STOP_PID=$PID
      PIDS+=("$PID")
      ;;
  esac
}
# The load generator's own CPU share while it sends (% of one CPU, sampled over
# half the run once the upstream has seen the first request, i.e. after wrk
# read its request list): near 100, wrk set the pace, not the system measured.
client_busy() { # timeout-pid upstream-count-before -> percent ("-" when not sampled)
  local wrk_pid t0 t1 secs=$(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))
  for _ in $(seq 300); do
    wrk_pid="$(ps -o pid= --ppid "$1" 2>/dev/null | head -n1 | tr -d ' ')"
    [ -n "$wrk_pid" ] && [ "$(upstream_count)" -gt "$2" ] && break
    sleep 0.05
  done
  [ -n "$wrk_pid" ] || { echo -; return; }
  t0="$(cpu_ticks "$wrk_pid")"
  sleep "$secs"
  t1="$(cpu_ticks "$wrk_pid")"
  # wrk gone before the sample ended (a run cut short): no number.
  if kill -0 "$wrk_pid" 2>/dev/null && [ "$t1" -ge "$t0" ]; then
    echo $(( (t1 - t0) * 100 / (CLK_TCK * secs) ))
  else
    echo -
  fi
}
stop_system() { # SIGTERM (both drain and exit), at most 10 s, then SIGKILL
  kill "$STOP_PID" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$STOP_PID" 2>/dev/null || return 0; sleep 0.05; done
  log "pid $STOP_PID did not exit within 10 s of SIGTERM; killing it"
  kill -9 "$STOP_PID" 2>/dev/null || true
}

# Idle: start to first accepted connection, and RSS one second later.
start_system nginx
sleep 1
NGINX_IDLE_KIB="$(vm "$PID" VmRSS)"
stop_system
start_system hookguard
FIRST_START_MS=$START_MS
sleep 1
IDLE_RSS_KIB="$(vm "$PID" VmRSS)"
stop_system
log "hookguard: first connection accepted after $FIRST_START_MS ms, idle RSS $IDLE_RSS_KIB KiB"

# --- load ---------------------------------------------------------------------
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
FAILED=0
for SIZE in 1024 65536; do
  "${TOOLS[@]}" body "$SIZE" "$WORK/body-$SIZE.json"
  # Requests to pre-sign per run: 1.5 x the best rate seen so far x duration.
  case "$SIZE" in 1024) RATE=80000 ;; *) RATE=20000 ;; esac
  # The store and delivery variants with 1 KiB bodies only (to keep time).
  case "$SIZE" in 1024) SYSTEMS="nginx floor hookguard hookguard-redis hookguard-queue" ;; *) SYSTEMS="nginx floor hookguard" ;; esac
  for ROUND in $(seq "$ROUNDS"); do
    for SYSTEM in $SYSTEMS; do
      COUNT=$(( RATE * DURATION * 3 / 2 ))
      # A fresh list for every run (new ids, timestamp of now): no system ever
      # sees an id twice, nor one another system has seen.
      "${TOOLS[@]}" gen "$SECRET" "$ROUTE" "$WORK/body-$SIZE.json" "$COUNT" "$WORK/requests.txt"
      start_system "$SYSTEM"
      before="$(upstream_count)"
      cpu0="$(cpu_ticks "$PID")"
      up0="$(cpu_ticks "$UP_PID")"
      timeout $((DURATION + 60)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s \
        -s "$ROOT/bench/wrk/signed.lua" "http://127.0.0.1:$PORT$ROUTE" -- "$WORK/requests.txt" \
        "$WORK/body-$SIZE.json" >"$WORK/wrk.out" &
      WRK_JOB=$!
      client_pct="$(client_busy "$WRK_JOB" "$before")"
      wait "$WRK_JOB"
      out="$(cat "$WORK/wrk.out")"
      line="$(grep '^RESULT' <<<"$out")" || { log "wrk printed no RESULT:"; echo "$out" >&2; exit 1; }
      eval "$(sed 's/^RESULT //; s/statuses=\[.*\]//' <<<"$line")"   # requests= duration_us= p50_us= ...
      drain_ms=0
      if [ "$SYSTEM" = hookguard-queue ]; then
        # Acknowledged is not delivered: wait (at most 60 s) until the upstream
        # has received every acknowledged webhook. CPU includes the delivery.
        t0=$(date +%s%N)
        for _ in $(seq 600); do
          [ $(( $(upstream_count) - before )) -ge "$requests" ] && break
          sleep 0.1
        done
        drain_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        [ "$acked" -eq "$requests" ] || { log "$SYSTEM: $acked of $requests answers were 202"; non2xx=$((non2xx + 1)); }
      fi
      cpu1="$(cpu_ticks "$PID")"
      up1="$(cpu_ticks "$UP_PID")"
      sleep 0.5   # let in-flight requests that wrk stopped waiting for settle
      after="$(upstream_count)"
      reached=$((after - before))
      rps=$(( requests * 1000000 / duration_us ))
      [ "$rps" -gt "$RATE" ] && RATE=$rps
      ok=ok
      # Every 2xx must have reached the upstream; at most CONNS more may have
      # reached it (requests still in flight when wrk stopped counting).
      if [ "$non2xx" -ne 0 ] || [ "$exhausted" -ne 0 ] || [ "$sock_errors" -ne 0 ] \
         || [ "$reached" -lt "$requests" ] || [ "$reached" -gt $((requests + CONNS)) ]; then
        ok=FAIL; FAILED=1
        log "$SYSTEM $SIZE round $ROUND FAILED: $line; upstream received $reached"
      fi
      # CPU time the system under test spent per request (all its threads):
      # steadier than req/s when other work shares the machine.
      cpu_us=$(( (cpu1 - cpu0) * 1000000 / CLK_TCK / (requests > 0 ? requests : 1) ))
      # The upstream's share: the same work whichever proxy is in front.
      up_us=$(( (up1 - up0) * 1000000 / CLK_TCK / (requests > 0 ? requests : 1) ))
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$SYSTEM" "$SIZE" "$ROUND" "$rps" "$p50_us" \
        "$p99_us" "$requests" "$reached" "$(vm "$PID" VmHWM)" "$cpu_us" "$ok" "$drain_ms" "$client_pct" "$up_us" >>"$RESULTS"
      log "$(printf '%-15s %6s B round %s: %6s req/s  p50 %6s us  p99 %6s us  cpu %4s us/req  wrk %3s %%  %s' \
        "$SYSTEM" "$SIZE" "$ROUND" "$rps" "$p50_us" "$p99_us" "$cpu_us" "$client_pct" "$ok")"
      stop_system
    done
  done
done
HG_LOG_LINES="$(wc -l <"$WORK/hookguard.log")"
NGINX_LOG_LINES="$(wc -l <"$WORK/nginx/logs/access.log")"

# --- idle keep-alive connections (a fresh hookguard) --------------------------
start_system hookguard
sleep 0.5
IDLE_LINE="$(timeout 120 "${TOOLS[@]}" idle "$PORT" "$PID" "$IDLE_CONNS")"
log "idle connections: $IDLE_LINE"
stop_system

# --- replay store with many keys ----------------------------------------------
REPLAY_LINE="$(timeout 300 "$TARGET/examples/bench_replay_mem" "$REPLAY_KEYS")"
log "replay store: $REPLAY_LINE"

# --- report -------------------------------------------------------------------
cat >"$WORK/extra.txt" <<EXTRA
start_ms=$FIRST_START_MS
idle_rss_kib=$IDLE_RSS_KIB
nginx_idle_rss_kib=$NGINX_IDLE_KIB
idle=$IDLE_LINE
replay=$REPLAY_LINE
log_lines=hookguard $HG_LOG_LINES, nginx access log $NGINX_LOG_LINES
cpus=$(nproc)
$("${TOOLS[@]}" hmac 1024 65536)
EXTRA
echo
echo "hookguard bench: wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS rounds (in each: nginx, floor, hookguard[, hookguard-redis, hookguard-queue]), $(nproc) CPUs, $(uname -sr)"
"${TOOLS[@]}" report "$RESULTS" "$WORK/extra.txt"
if [ "$FAILED" != 0 ]; then log "some runs FAILED their checks (see above)"; exit 1; fi
