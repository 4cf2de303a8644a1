#!/usr/bin/env python3
"""Checks a span-flood run (Tests/Load/span-flood.sh) in WORK and prints a Markdown table of what was
measured; exits 1 if any check fails. Bounds come from the environment (the script passes them on):

  RSS_CEILING_MIB        profd's VmRSS never exceeds this during the profiled phase.
  RSS_FLAT_MIB           flat: after WARMUP_SECONDS (two session windows and their writes: the allocator's
                         high-water mark), the median RSS of the second half of the rest of the phase is at most
                         this much above the median of its first half.
  KEEP_ALL_RSS_MIB       the keep-every-request phase: profd's VmRSS never exceeds this.
  WATCHDOG_USEC          every gap between WATCHDOG=1 notifications (READY=1 to STOPPING=1) is below it.
  LATENCY_P99_RATIO_MAX  clients' mean p99 request latency profiled / unprofiled is at most this.
  MIN_RATE_SHARE         the clients together achieve at least this share of RATE in every phase.
  RATE                   the offered spans per second, all clients together.

Counting (per client, all of its sessions): a request is recorded (ProfClient accepted its begin), not recorded
(between a stop and the next start) or dropped at begin. profd puts every recorded span it received into its
session's requests.count (finished or not), suppressedSpans (the rate limit) or droppedSpans (the per-session
cap). With no drops anywhere this is exact: requests = recorded + notRecorded, and recorded = the sum of the
three daemon counters. With drops, the client counters bound it (see `counts`).
"""
import json, os, statistics, subprocess, sys

WORK = sys.argv[1]
ENV = os.environ
failures = []
rows = []

def check(what, measured, ok, bound):
    rows.append((what, measured, bound, "pass" if ok else "FAIL"))
    if not ok:
        failures.append(f"{what}: {measured} (bound: {bound})")

def clients(phase):
    result = []
    for name in sorted(os.listdir(WORK)):
        if name.startswith(phase + "-client-") and name.endswith(".out"):
            lines = [l for l in open(os.path.join(WORK, name)) if l.startswith("{")]
            if not lines:
                failures.append(f"{name}: no JSON line")
                continue
            result.append(json.loads(lines[-1]))
    return result

def marks():
    found = {}
    for line in open(os.path.join(WORK, "marks")):
        key, value = line.split()
        found[key] = float(value)
    return found

def mean(values):
    return sum(values) / len(values) if values else float("nan")

def counts(phase):
    """Client and daemon counters of one profiled phase, checked client by client."""
    totals = dict(requests=0, recorded=0, notRecorded=0, sent=0, dropped=0, messagesDropped=0, reconnects=0,
                  kept=0, unfinished=0, suppressed=0, cappedByDaemon=0, sessions=0, failedStops=0)
    for client in clients(phase):
        daemon = dict(kept=0, unfinished=0, suppressed=0, cappedByDaemon=0)
        for directory in client["reports"]:
            with open(os.path.join(directory, "session.json")) as f:
                session = json.load(f)
            daemon["kept"] += session["requests"]["count"]
            daemon["unfinished"] += session["requests"].get("unfinished", 0)
            daemon["suppressed"] += session["session"].get("suppressedSpans") or 0
            daemon["cappedByDaemon"] += session["session"].get("droppedSpans") or 0
        seen = daemon["kept"] + daemon["suppressed"] + daemon["cappedByDaemon"]
        recorded, not_recorded = client["spansRecorded"], client["spansNotRecorded"]
        dropped, lost = client["spansDropped"], client["messagesDropped"]
        pid = client["pid"]
        if not recorded + not_recorded <= client["requests"] <= recorded + not_recorded + dropped:
            failures.append(f"{phase} client {pid}: requests {client['requests']} vs recorded {recorded} + not recorded {not_recorded} (+ dropped {dropped})")
        if not recorded - lost <= seen <= recorded:
            failures.append(f"{phase} client {pid}: profd saw {seen} spans, client recorded {recorded} and lost {lost} messages")
        totals["requests"] += client["requests"]
        totals["recorded"] += recorded
        totals["notRecorded"] += not_recorded
        totals["sent"] += client["spansSent"]
        totals["dropped"] += dropped
        totals["messagesDropped"] += lost
        totals["reconnects"] += client["reconnects"]
        totals["sessions"] += len(client["reports"])
        totals["failedStops"] += client["failedStops"]
        for key in daemon:
            totals[key] += daemon[key]
    return totals

def latency(phase):
    group = clients(phase)
    return (mean([c["serviceUs"]["p50"] for c in group]), mean([c["serviceUs"]["p99"] for c in group]),
            mean([c["responseUs"]["p99"] for c in group]), sum(c["achievedRate"] for c in group))

def rss_and_cpu(window):
    samples = []
    for line in open(os.path.join(WORK, "profd-samples")):
        t, rss, ticks, load = line.split()
        samples.append((float(t), int(rss) / 1024, int(ticks), float(load)))
    inside = [s for s in samples if window[0] <= s[0] <= window[1]]
    settled = [s for s in inside if s[0] >= window[0] + float(ENV["WARMUP_SECONDS"])]
    if len(settled) < 4:
        sys.exit(f"load-test: only {len(settled)} RSS samples after the {ENV['WARMUP_SECONDS']} s warm-up; run for longer (DURATION)")
    half = len(settled) // 2
    middle = statistics.median(s[1] for s in settled[:half])
    last = statistics.median(s[1] for s in settled[half:])
    hz = os.sysconf("SC_CLK_TCK")
    cpu = [(b[2] - a[2]) / hz / (b[0] - a[0]) * 100 for a, b in zip(inside, inside[1:])]
    return dict(max=max(s[1] for s in samples), first=inside[0][1], middle=middle, last=last,
                cpuMean=mean(cpu), cpuMax=max(cpu), loads=[s[3] for s in inside], count=len(inside))

def watchdog_gaps():
    times, ready, stopping = [], None, None
    for line in open(os.path.join(WORK, "notify.log")):
        t, message = line.split(" ", 1)
        message = message.strip()
        if message == "READY=1": ready = float(t)
        elif message == "WATCHDOG=1": times.append(float(t))
        elif message == "STOPPING=1": stopping = float(t)
    if ready is None or stopping is None:
        return None, len(times)
    points = [ready] + [t for t in times if ready <= t <= stopping] + [stopping]
    return max(b - a for a, b in zip(points, points[1:])), len(times)

def main():
    rate = float(ENV["RATE"])
    share = float(ENV["MIN_RATE_SHARE"])
    m = marks()

    base_p50, base_p99, base_resp99, base_rate = latency("baseline")
    prof_p50, prof_p99, prof_resp99, prof_rate = latency("profiled")
    limit_rate = latency("limit")[3]
    for phase, achieved in (("baseline", base_rate), ("profiled", prof_rate), ("limit", limit_rate)):
        check(f"{phase}: spans/s offered (all clients)", f"{achieved:,.0f} of {rate:,.0f}", achieved >= share * rate, f">= {share:.0%}")

    usage = rss_and_cpu((m["clients-start"], m["clients-end"]))
    ceiling, flat = float(ENV["RSS_CEILING_MIB"]), float(ENV["RSS_FLAT_MIB"])
    check("profd RSS max (whole run)", f"{usage['max']:.1f} MiB", usage["max"] <= ceiling, f"<= {ceiling:g} MiB")
    growth = usage["last"] - usage["middle"]
    check(f"profd RSS flat: median of the second half − first half after {float(ENV['WARMUP_SECONDS']):g} s",
          f"{usage['middle']:.1f} → {usage['last']:.1f} MiB ({growth:+.1f})", growth <= flat, f"<= {flat:g} MiB")
    rows.append(("profd CPU (% of one core)", f"mean {usage['cpuMean']:.0f}%, max {usage['cpuMax']:.0f}% per 1 s", "-", "info"))

    keep_all = max(int(line.split()[1]) / 1024 for line in open(os.path.join(WORK, "keep-all-samples")))
    keep_all_max = float(ENV["KEEP_ALL_RSS_MIB"])
    check("keep-all: profd RSS max while one client keeps every request", f"{keep_all:.1f} MiB", keep_all <= keep_all_max, f"<= {keep_all_max:g} MiB")

    gap, beats = watchdog_gaps()
    limit_s = float(ENV["WATCHDOG_USEC"]) / 1e6
    check("watchdog: longest gap READY → WATCHDOG=1 … → STOPPING", "no READY/STOPPING" if gap is None else f"{gap * 1000:.0f} ms ({beats} beats)",
          gap is not None and gap < limit_s, f"< {limit_s * 1000:.0f} ms")
    alive = open(os.path.join(WORK, "alive")).read().strip()
    check("profd alive and serving after the flood", alive, alive == "yes", "a new session's report, exit 0 on SIGTERM")

    for phase in ("profiled", "limit"):
        c = counts(phase)
        exact = c["dropped"] == 0 and c["messagesDropped"] == 0
        daemon_total = c["kept"] + c["suppressed"] + c["cappedByDaemon"]
        check(f"{phase}: spans accounted for", f"{c['requests']:,} requests = {c['recorded']:,} recorded + {c['notRecorded']:,} between sessions; "
              f"profd: {c['kept']:,} in reports ({c['unfinished']} unfinished) + {c['suppressed']:,} suppressed + {c['cappedByDaemon']:,} over the cap "
              f"= {daemon_total:,}; client dropped {c['dropped']:,} spans, {c['messagesDropped']:,} messages; {c['reconnects']} reconnects",
              not any(f.startswith(phase + " client") for f in failures), "exact" if exact else "within the client's drop counts")
        check(f"{phase}: sessions written", f"{c['sessions']} reports, {c['failedStops']} stops without one",
              c["failedStops"] == 0 and c["sessions"] > 0, "every stop gets its report")
        if phase == "limit":
            check("limit: suppression happened and was counted", f"{c['suppressed']:,} suppressed", c["suppressed"] > 0, "> 0")
    for state in ("state", "limit-state"):
        result = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "Faults", "check-sessions.py"),
                                 os.path.join(WORK, state), "--no-temporaries"], capture_output=True, text=True)
        check(f"{state}: every session complete (session.json and listed files parse)", result.stdout.strip().replace("\n", "; "),
              result.returncode == 0, "check-sessions.py")

    ratio_max = float(ENV["LATENCY_P99_RATIO_MAX"])
    ratio50, ratio99 = prof_p50 / base_p50, prof_p99 / base_p99
    check("request latency p50 (mean of clients)", f"{base_p50:.1f} → {prof_p50:.1f} µs (×{ratio50:.2f})", True, "reported")
    check("request latency p99 profiled / unprofiled", f"{base_p99:.1f} → {prof_p99:.1f} µs (×{ratio99:.2f})", ratio99 <= ratio_max, f"<= ×{ratio_max:g}")
    rows.append(("response p99 from the scheduled slot", f"{base_resp99:.0f} → {prof_resp99:.0f} µs", "-", "info"))
    rows.append(("load average (1 min) during the profiled phase", f"{min(usage['loads']):.2f}–{max(usage['loads']):.2f}", "-", "info"))

    print("| check | measured | bound | result |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    print("load-test: " + ("FAIL" if failures else "PASS"))
    sys.exit(1 if failures else 0)

if __name__ == "__main__":
    main()
