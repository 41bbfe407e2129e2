#!/usr/bin/env python3
"""Helpers for bench/run.sh (python3 standard library only).

  tools.py port                               print a free 127.0.0.1 port
  tools.py body SIZE OUT                      write a JSON body of exactly SIZE bytes
  tools.py gen SECRET PATH BODY COUNT OUT     sign COUNT distinct requests (fresh timestamp)
  tools.py startup PORT LOG -- CMD...         start CMD (output to LOG), print '<pid> <ms to first
                                              accepted connection>', leave it running
  tools.py idle PORT PID CONNS                hold CONNS keep-alive connections, print the PID's RSS
  tools.py get URL                            print the body of a GET (the upstream's /count)
  tools.py hmac SIZE...                       print 'hmac_us_<SIZE>=<CPU us of one HMAC-SHA256 of SIZE
                                              bytes here>' (OpenSSL through hashlib: this CPU's SHA-256)
  tools.py report RESULTS EXTRA               print the tables (medians, ratios, targets)

Every loop is bounded by a count or a deadline.
"""
import asyncio
import concurrent.futures
import hashlib
import hmac
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_body(size, out):
    head, tail = b'{"type":"bench.event","data":"', b'"}'
    pad = size - len(head) - len(tail)
    if pad < 0:
        sys.exit("body size too small")
    with open(out, "wb") as f:
        f.write(head + b"x" * pad + tail)


def gen(secret, path, body_file, count, out):
    body = open(body_file, "rb").read()
    ts = str(int(time.time()))
    run = os.urandom(6).hex()
    key = secret.encode()

    def sign(rng):
        lines = []
        for i in rng:
            eid = f"evt_{run}_{i:09d}"  # fixed width: signed.lua finds records by offset
            mac = hmac.new(key, f"{eid}.{ts}.".encode(), hashlib.sha256)
            mac.update(body)  # hashlib releases the GIL on large buffers
            lines.append(f"{eid} {mac.hexdigest()}\n")
        return "".join(lines)

    workers = max(1, os.cpu_count() or 1)
    step = (count + workers - 1) // workers
    chunks = [range(s, min(s + step, count)) for s in range(0, count, step)]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(sign, chunks))
    with open(out, "w") as f:
        f.write(f"{path} {ts}\n")
        f.writelines(parts)


def startup(port, log, cmd):
    """Starts cmd with its output in log, prints its pid and ms to first accept."""
    out = open(log, "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = t0 + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                ms = (time.monotonic() - t0) * 1000
                print(f"{proc.pid} {ms:.1f}")
                return
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"process exited with {proc.returncode} before accepting")
            time.sleep(0.0005)
    proc.kill()
    sys.exit("no accepted connection within 10 s")


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def idle(port, pid, conns):
    """Opens conns connections, completes one request on each (so each is a
    kept-alive HTTP connection), then samples RSS while all are held."""
    before = vm(pid, "VmRSS")
    req = b"GET /bench-idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    held, failed = [], 0
    sem = asyncio.Semaphore(500)

    async def one():
        nonlocal failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
                w.write(req)
                await w.drain()
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
                if b"content-length:" in head.lower():
                    n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    await asyncio.wait_for(r.readexactly(n), 10)
                held.append((r, w))
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                failed += 1

    await asyncio.gather(*(one() for _ in range(conns)))
    await asyncio.sleep(1)
    after = vm(pid, "VmRSS")
    open_now = sum(1 for r, _ in held if not r.at_eof())
    print(f"conns={len(held)} failed={failed} still_open={open_now} "
          f"rss_before_kib={before} rss_held_kib={after}")
    for _, w in held:
        w.close()


# wrk's share of one CPU (median over rounds) from which a run counts as paced
# by the client rather than by the system measured.
CLIENT_BOUND_PCT = 85


def hmac_costs_us(sizes):
    """CPU time of one HMAC-SHA256 of each of `sizes` bytes on this CPU, in us.

    hashlib hands the bytes to OpenSSL, whose SHA-256 uses the CPU's SHA
    extensions where it has them, as ring does: the machine's floor for the
    one piece of work a verifying proxy cannot skip. Python's per-call cost
    is taken out: the rate per byte comes from two long inputs (best of 9),
    and one HMAC hashes the message plus three 64-byte blocks (key pads and
    the inner digest).
    """
    key, small, large = b"k" * 32, b"x" * (1 << 16), b"x" * (1 << 20)

    def best(data, reps):
        fastest = float("inf")
        for _ in range(9):
            t0 = time.process_time()
            for _ in range(reps):
                hmac.digest(key, data, "sha256")
            fastest = min(fastest, (time.process_time() - t0) / reps)
        return fastest

    per_byte = (best(large, 20) - best(small, 320)) / (len(large) - len(small))
    return {size: (size + 3 * 64) * per_byte * 1e6 for size in sizes}


def cpu_budget(agg, kv, med):
    """Per request CPU of every process on the machine, and what it allows.

    wrk, the upstream and the proxy share the CPUs, so a proxy can serve at
    most CPUs / (its us + wrk's us + the upstream's us) requests per second,
    however it spreads its work over threads. The last row of each size puts
    hookguard at its lower bound (the floor plus one HMAC of the body, with
    the cheapest client and upstream cost measured at that size).
    """
    cpus = int(kv.get("cpus", 0))
    if not cpus:
        return
    print()
    print(f"CPU budget per request ({cpus} CPUs shared by wrk, the upstream and the proxy; wrk's us from")
    print("its sampled share; ceiling = CPUs x 1e6 / all, the most requests/s the machine has CPU for):")
    print("  | system                      | body   | proxy us | wrk us | upstream us | all us | ceiling req/s | measured req/s |")
    print("  |-----------------------------|--------|---------:|-------:|------------:|-------:|--------------:|---------------:|")
    for size in sorted({k[1] for k in agg}):
        costs = {}
        for sysn in ("nginx", "floor", "hookguard"):
            a = agg.get((sysn, size))
            if a and a["wrk"] and a["up"]:
                wrk_us = med(a["wrk"]) * 1e4 / med(a["rps"])
                costs[sysn] = (med(a["cpu"]), wrk_us, med(a["up"]), med(a["rps"]))
        rows = [(sysn, *c) for sysn, c in costs.items()]
        hmac_us = float(kv.get(f"hmac_us_{size}", 0))
        if "floor" in costs and hmac_us and len(costs) > 1:
            rows.append(("hookguard bound: floor+HMAC", costs["floor"][0] + hmac_us,
                         min(c[1] for c in costs.values()), min(c[2] for c in costs.values()), None))
        for sysn, proxy, wrk_us, up, rps in rows:
            total = proxy + wrk_us + up
            measured = f"{rps:>14.0f}" if rps is not None else f"{'-':>14}"
            print(f"  | {sysn:<27} | {size//1024:>2} KiB | {proxy:>8.1f} | {wrk_us:>6.1f} | {up:>11.1f} | "
                  f"{total:>6.1f} | {cpus * 1e6 / total:>13.0f} | {measured} |")
        if hmac_us:
            print(f"  (one HMAC-SHA256 of {size//1024} KiB: {hmac_us:.1f} us on this CPU)")


def report(results, extra):
    # Columns: system body round req/s p50 p99 2xx upstream VmHWM cpu check drain_ms wrk_cpu_pct
    # upstream_cpu_us.
    rows = [l.rstrip("\n").split("\t") for l in open(results) if l.strip()]
    kv = dict(l.rstrip("\n").split("=", 1) for l in open(extra) if "=" in l)
    med = statistics.median
    print()
    print("per run:")
    print(f"  {'system':<16}{'body':>7}{'round':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'2xx':>9}{'upstream':>10}{'VmHWM MiB':>11}{'CPU us/req':>12}{'drain s':>9}{'wrk CPU %':>11}  check")
    for sysn, size, rnd, rps, p50, p99, req, reached, hwm, cpu, ok, drain, wrk, _ in rows:
        print(f"  {sysn:<16}{int(size)//1024:>5}Ki{rnd:>6}{int(rps):>9}{int(p50)/1000:>9.2f}"
              f"{int(p99)/1000:>9.2f}{int(req):>9}{int(reached):>10}{int(hwm)/1024:>11.1f}"
              f"{int(cpu):>12}{int(drain)/1000:>9.1f}{wrk:>11}  {ok}")
    agg = {}
    for sysn, size, _, rps, p50, p99, req, reached, hwm, cpu, ok, drain, wrk, up in rows:
        a = agg.setdefault((sysn, int(size)),
                           {"rps": [], "p50": [], "p99": [], "hwm": [], "cpu": [], "drain": [],
                            "wrk": [], "up": [], "req": 0, "reached": 0, "ok": True})
        a["up"].append(int(up))
        if wrk.isdigit():
            a["wrk"].append(int(wrk))
        a["rps"].append(int(rps)); a["p50"].append(int(p50)); a["p99"].append(int(p99))
        a["hwm"].append(int(hwm)); a["cpu"].append(int(cpu)); a["drain"].append(int(drain))
        a["req"] += int(req); a["reached"] += int(reached); a["ok"] = a["ok"] and ok == "ok"
    print()
    print("median over rounds (peak RSS: VmHWM; nginx: its one worker process; wrk CPU: the load")
    print("generator's share of one CPU while it sent, near 100 % when it, not the proxy, set the pace):")
    print("  | system    | body   | requests/s | p50 ms | p99 ms | peak RSS MiB | CPU us/req | wrk CPU % |")
    print("  |-----------|--------|-----------:|-------:|-------:|-------------:|-----------:|----------:|")
    wrk_med = lambda a: f"{med(a['wrk']):.0f}" if a["wrk"] else "-"
    verdicts = []
    for size in sorted({k[1] for k in agg}):
        for sysn in ("nginx", "hookguard"):
            a = agg.get((sysn, size))
            if a:
                print(f"  | {sysn:<9} | {size//1024:>2} KiB | {med(a['rps']):>10.0f} | "
                      f"{med(a['p50'])/1000:>6.2f} | {med(a['p99'])/1000:>6.2f} | {max(a['hwm'])/1024:>12.1f} | "
                      f"{med(a['cpu']):>10.0f} | {wrk_med(a):>9} |")
        n, h = agg.get(("nginx", size)), agg.get(("hookguard", size))
        if n and h:
            tr = med(h["rps"]) / med(n["rps"])
            pr = med(h["p99"]) / med(n["p99"])
            print(f"  | ratio h/n | {size//1024:>2} KiB | {tr:>10.2f} | "
                  f"{med(h['p50'])/med(n['p50']):>6.2f} | {pr:>6.2f} | "
                  f"{max(h['hwm'])/max(n['hwm']):>12.2f} | {med(h['cpu'])/max(1, med(n['cpu'])):>10.2f} | {'':>9} |")
            verdicts.append((f"throughput hookguard/nginx, {size//1024} KiB", f"{tr:.2f}", ">= 1.0", tr >= 1.0))
            verdicts.append((f"p99 latency hookguard/nginx, {size//1024} KiB", f"{pr:.2f}", "<= 1.0", pr <= 1.0))
    # A system whose load generator was nearly saturated was measured at the
    # client's pace, not its own: say so next to the ratios it enters.
    for (sysn, size), a in sorted(agg.items(), key=lambda item: (item[0][1], item[0][0])):
        if sysn in ("nginx", "hookguard") and a["wrk"] and med(a["wrk"]) >= CLIENT_BOUND_PCT:
            print(f"  note: {sysn} at {size//1024} KiB had wrk at {med(a['wrk']):.0f} % of a CPU: the client set "
                  f"its pace, so its requests/s are a lower bound and the {size//1024} KiB ratios lean "
                  f"{'towards hookguard' if sysn == 'nginx' else 'against hookguard'}")
    if any(k[0] == "floor" for k in agg):
        print()
        print("the HTTP stack alone ('floor': examples/bench_bare_proxy.rs, hyper + tokio on one thread,")
        print("keep-alive upstream, body read whole, no verification, no log line):")
        print("  | body   | floor req/s | floor/nginx req/s | floor CPU us/req | hookguard - floor CPU us/req |")
        print("  |--------|------------:|------------------:|-----------------:|-----------------------------:|")
        for size in sorted({k[1] for k in agg}):
            f, n, h = agg.get(("floor", size)), agg.get(("nginx", size)), agg.get(("hookguard", size))
            if f and n and h:
                print(f"  | {size//1024:>2} KiB | {med(f['rps']):>11.0f} | {med(f['rps'])/med(n['rps']):>17.2f} | "
                      f"{med(f['cpu']):>16.0f} | {med(h['cpu']) - med(f['cpu']):>28.0f} |")
    cpu_budget(agg, kv, med)
    variants = [("hookguard", "memory", "forward"), ("hookguard-redis", "redis", "forward"),
                ("hookguard-queue", "memory", "queue")]
    if any((v[0], 1024) in agg for v in variants[1:]):
        print()
        print("replay store and delivery mode, 1 KiB (queue: requests/s and latency are of the 202")
        print("acknowledgements; CPU includes the later delivery; drain: time after the run until")
        print("the upstream had every acknowledged webhook):")
        print("  | system          | store  | delivery | requests/s | p50 ms | p99 ms | CPU us/req | answered / reached upstream | drain s |")
        print("  |-----------------|--------|----------|-----------:|-------:|-------:|-----------:|-----------------------------|--------:|")
        for sysn, store, mode in variants:
            a = agg.get((sysn, 1024))
            if a:
                print(f"  | {sysn:<15} | {store:<6} | {mode:<8} | {med(a['rps']):>10.0f} | "
                      f"{med(a['p50'])/1000:>6.2f} | {med(a['p99'])/1000:>6.2f} | {med(a['cpu']):>10.0f} | "
                      f"{a['req']:>12} / {a['reached']:<12} | {max(a['drain'])/1000:>7.1f} |")
        q = agg.get(("hookguard-queue", 1024))
        if q:
            verdicts.append(("every acknowledged (202) webhook reached the upstream",
                             f"{q['reached']} of {q['req']}", "all, within 60 s",
                             q["ok"] and q["reached"] >= q["req"]))
    hg_peak = max((max(a["hwm"]) for (sn, _), a in agg.items() if sn == "hookguard"), default=0) / 1024
    idle = int(kv.get("idle_rss_kib", 0)) / 1024
    start = float(kv.get("start_ms", 0))
    fields = lambda line: dict(p.split("=", 1) for p in line.split() if "=" in p)
    conns = fields(kv.get("idle", ""))
    held_mib = int(conns.get("rss_held_kib", 0)) / 1024
    replay = fields(kv.get("replay", ""))
    replay_mib = int(replay.get("delta_kib", 0)) / 1024
    verdicts += [
        ("hookguard idle RSS", f"{idle:.1f} MiB", "<= 15 MiB", idle <= 15),
        ("hookguard peak RSS under load", f"{hg_peak:.1f} MiB", "<= 40 MiB", hg_peak <= 40),
        (f"RSS holding {conns.get('still_open', '?')}/{conns.get('conns', '?')} idle keep-alive connections",
         f"{held_mib:.1f} MiB", "<= 150 MiB with 10000",
         None if int(conns.get("conns", 0)) < 10000 else held_mib <= 150),
        (f"replay store, {replay.get('replay_keys', '?')} keys (RSS growth)", f"{replay_mib:.1f} MiB",
         "<= 100 MiB with 1000000",
         None if int(replay.get("replay_keys", 0)) < 1000000 else replay_mib <= 100),
        ("start to first accepted connection", f"{start:.1f} ms", "<= 50 ms", start <= 50),
    ]
    print()
    print("targets:")
    for name, value, target, met in verdicts:
        label = "n/a   " if met is None else "met   " if met else "MISSED"
        print(f"  {label}  {name}: {value} (target {target})")
    print()
    print(f"nginx worker idle RSS: {int(kv.get('nginx_idle_rss_kib', 0))/1024:.1f} MiB; "
          f"log lines written: {kv.get('log_lines', '?')}")


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a[0]
    if cmd == "port":
        print(free_port())
    elif cmd == "body":
        write_body(int(a[1]), a[2])
    elif cmd == "gen":
        gen(a[1], a[2], a[3], int(a[4]), a[5])
    elif cmd == "startup":
        startup(int(a[1]), a[2], a[4:])
    elif cmd == "idle":
        asyncio.run(idle(int(a[1]), int(a[2]), int(a[3])))
    elif cmd == "report":
        report(a[1], a[2])
    elif cmd == "hmac":
        for size, us in hmac_costs_us([int(x) for x in a[1:]]).items():
            print(f"hmac_us_{size}={us:.2f}")
    elif cmd == "get":
        with urllib.request.urlopen(a[1], timeout=10) as r:
            print(r.read().decode())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
