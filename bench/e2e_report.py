#!/usr/bin/env python3
"""The results of bench/e2e.sh: one JSON line per run (row), the table of them (table), whether the last
run sustained its load (sustained: exit status 0 if it did).
  e2e_report.py row --mode M --beds N --replays P --from MS --to MS --load L --hwm-kb KB --metrics FILE
                    SCRAPE LATENCY_JSON
  e2e_report.py table [--header] [--last] [RESULTS_JSONL]
  e2e_report.py sustained RESULTS_JSONL
SCRAPE: bench/e2e.sh's lines 'WALL_MS LAG FRAMES WINDOWS METSD_TICKS METSD_RSS_KB REPLAY_TICKS KAFKA_TICKS'.
A bed offers 250 / 63 frames per second (63-sample frames at 250 Hz) and a window every 2 s. Sustained: the
lag at the end of the measurement (median of its last 5 samples) is at most the lag at its start (median of
the first 5) plus half a second of input, and metsd consumed at least 98 % of the frames offered."""
import argparse, json, os, statistics, sys

FRAMES_PER_BED_S = 250 / 63
TICK = os.sysconf("SC_CLK_TCK")


def row(a):
    rows = [[float(x) for x in l.split()] for l in open(a.scrape) if len(l.split()) == 8]
    inside = [r for r in rows if a.t_from <= r[0] <= a.t_to and r[1] >= 0]
    if len(inside) < 2:
        sys.exit("e2e_report: fewer than 2 scrapes in the measurement")
    first, last = inside[0], inside[-1]
    dt = (last[0] - first[0]) / 1000
    offered = a.beds * FRAMES_PER_BED_S
    lag0 = statistics.median(r[1] for r in inside[:5])
    lag1 = statistics.median(r[1] for r in inside[-5:])
    frames_s = (last[2] - first[2]) / dt
    cpu = lambda col: (last[col] - first[col]) / TICK / dt  # cores busy
    out = {
        "mode": a.mode, "beds": a.beds, "replays": a.replays, "seconds": round(dt, 1), "load": a.load,
        "offered_frames_s": round(offered, 1), "frames_s": round(frames_s, 1),
        "windows_s": round((last[3] - first[3]) / dt, 1),
        "lag_start": lag0, "lag_end": lag1, "lag_max": max(r[1] for r in inside),
        "metsd_cpu_cores": round(cpu(4), 3), "ms_per_bed_s": round(cpu(4) * 1000 / a.beds, 3),
        "replay_cpu_cores": round(cpu(6), 3), "kafka_cpu_cores": round(cpu(7), 3),
        "rss_mib": round(last[5] / 1024, 1), "hwm_mib": round(a.hwm_kb / 1024, 1),
    }
    out["stage_mean_ms"] = stage_means(a.metrics)
    out["sustained"] = lag1 <= lag0 + offered / 2 and frames_s >= 0.98 * offered
    out.update(json.load(open(a.latency)))
    print(json.dumps(out))


def stage_means(path):
    """Mean ms per batch of metsd's stages (mets_stage_seconds: encode, queue included; publish; commit) and
    metsd's own frame-to-output mean (mets_frame_to_output_seconds), over the whole run."""
    sums, counts = {}, {}
    for l in open(path):
        for name, d in (("_sum{", sums), ("_count{", counts)):
            if name in l and ("mets_stage_seconds" in l or "mets_frame_to_output_seconds" in l):
                label = l.split('"')[1]
                d[label] = float(l.split()[-1])
    return {k: round(1000 * sums[k] / counts[k], 1) for k in sums if counts.get(k)}


def pct(d, keys=("p50", "p99", "p999", "max")):
    return "/".join("%.0f" % d[k] for k in keys) if d else "-"


HEAD = ("| mode | N | frames/s | windows/s | lag start>end (max) | sustained | metsd CPU % of 2 cores | "
        "ms CPU per bed per s | RSS MiB (peak) | embedding ms p50/p99/p99.9/max | visible ms p50/p99/p99.9/max "
        "| alerts: n, ms p50/p99/max | metsd ms encode/publish/commit, frame-to-embedding | replay CPU % (procs), late p99 ms | broker CPU % | load |")


def line(r):
    alert = r.get("alert")
    st = r.get("stage_mean_ms", {})
    stages = "/".join("%.0f" % st[k] if k in st else "-" for k in ("encode", "publish", "commit", "embedding"))
    return "| %s | %d | %.0f | %.1f | %d>%d (%d) | %s | %.0f | %.2f | %.0f (%.0f) | %s | %s | %s | %s | %.0f (%d), %s | %.0f | %s |" % (
        r["mode"], r["beds"], r["frames_s"], r["windows_s"], r["lag_start"], r["lag_end"], r["lag_max"],
        "yes" if r["sustained"] else "**no**", 50 * r["metsd_cpu_cores"], r["ms_per_bed_s"], r["rss_mib"],
        r["hwm_mib"], pct(r.get("embedding")), pct(r.get("embedding_visible")),
        "%d, %s" % (alert["n"], pct(alert, ("p50", "p99", "max"))) if alert else "0", stages,
        50 * r["replay_cpu_cores"], r["replays"], pct(r.get("replay_late_ms"), ("p99",)),
        50 * r["kafka_cpu_cores"], r["load"])


def main():
    if sys.argv[1] == "row":
        ap = argparse.ArgumentParser()
        for k in ("--mode", "--load"):
            ap.add_argument(k, required=True)
        for k, dest in (("--beds", "beds"), ("--replays", "replays"), ("--from", "t_from"), ("--to", "t_to"),
                        ("--hwm-kb", "hwm_kb")):
            ap.add_argument(k, type=int, required=True, dest=dest)
        ap.add_argument("--metrics", required=True)
        ap.add_argument("scrape")
        ap.add_argument("latency")
        row(ap.parse_args(sys.argv[2:]))
    elif sys.argv[1] == "table":
        args = sys.argv[2:]
        if "--header" in args:
            print(HEAD)
            print("|" + " --- |" * HEAD.count(" |"))
            return
        results = [json.loads(l) for l in open(args[-1]) if l.strip()]
        if "--last" in args:
            print(line(results[-1]))
            return
        print("\nall runs:\n" + HEAD)
        print("|" + " --- |" * HEAD.count(" |"))
        for r in sorted(results, key=lambda r: (r["mode"], r["beds"])):
            print(line(r))
        for mode in sorted({r["mode"] for r in results}):
            ok = [r["beds"] for r in results if r["mode"] == mode and r["sustained"]]
            print("%s: largest N sustained %s" % (mode, max(ok) if ok else "none"))
        pts = [(r["beds"], r["rss_mib"]) for r in results]
        if len({n for n, _ in pts}) > 1:
            mn, mr = statistics.mean(n for n, _ in pts), statistics.mean(m for _, m in pts)
            slope = sum((n - mn) * (m - mr) for n, m in pts) / sum((n - mn) ** 2 for n, _ in pts)
            print("metsd RSS: %.0f MiB + %.0f KiB per bed (least squares over %d runs)"
                  % (mr - slope * mn, slope * 1024, len(pts)))
    elif sys.argv[1] == "sustained":
        results = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
        sys.exit(0 if results[-1]["sustained"] else 1)


main()
