#!/usr/bin/env python3
"""Turns one run of `cargo bench -p one-benches` into BENCHMARKS.md's tables and its plot.

    python3 benches/scripts/report.py            # after `cargo bench -p one-benches`

Reads criterion's estimates (target/criterion/**/new/{benchmark,estimates}.json) and the
files the harness-less benches write (target/one-benches/*.json), rewrites the part of
BENCHMARKS.md between the `results:start` and `results:end` markers, and draws
benches/results.png (needs matplotlib: `pip install matplotlib`).
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CRITERION = TARGET / "criterion"
EXTRA = TARGET / "one-benches"
DOC = ROOT / "BENCHMARKS.md"
PLOT = ROOT / "benches" / "results.png"

ONE = "one-memory"
DYN = "one-memory as Arc<dyn Store>"
DYN_REF = "one-memory as &dyn Store"
MUTEX = "Mutex<HashMap>"
DASH = "dashmap"
MOKA = "moka"
MEMORY_PEERS = [ONE, DYN, DYN_REF, MUTEX, DASH, MOKA]
KEY_INPUTS = [
    ("storage_event", "storage event (nested structs, 1088 canonical bytes)"),
    ("tuple3", "3-field tuple"),
    ("wide20_map", "20-field struct with a map"),
]
KEY_PEERS = ["one make_key", "serde_json + sha256 hex", "siphash128 of pre-serialized bytes"]


def criterion_medians():
    """{group: {function: median ns}} from criterion's newest estimates."""
    out = {}
    if not CRITERION.is_dir():
        return out
    for bench in CRITERION.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        out.setdefault(meta["group_id"], {})[meta["function_id"]] = estimates["median"][
            "point_estimate"
        ]
    return out


def extra(name):
    path = EXTRA / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def ratio(x):
    return "–" if x is None else f"{x:.2f}x"


def target_row(name, measured, met, how):
    verdict = "–" if met is None else ("**met**" if met else "**not met**")
    return f"| {name} | {measured} | {verdict} | {how} |"


def build(med, mem, exp, red):
    lines = []
    add = lambda s="": lines.append(s)

    # Key derivation.
    add("### Key derivation")
    add()
    add("Median time per key; ratios are the peer's time over `one`'s (higher: `one` faster).")
    add()
    add("| input | one `make_key` | serde_json + SHA-256 hex | ratio | SipHash of pre-serialized bytes (floor) | floor's share of one |")
    add("|---|---:|---:|---:|---:|---:|")
    for key, label in KEY_INPUTS:
        g = med.get(f"key/{key}", {})
        one, js, floor = (g.get(p) for p in KEY_PEERS)
        if one is None:
            continue
        add(
            f"| {label} | {fmt_ns(one)} | {fmt_ns(js) if js else '–'} | "
            f"{ratio(js / one if js else None)} | {fmt_ns(floor) if floor else '–'} | "
            f"{floor / one * 100:.0f}% |"
        )
    add()

    # In-memory stores.
    for op, title in [("memory_add", "add"), ("memory_has_key", "has_key")]:
        add(f"### In-memory `{title}`: 1M operations over 500k keys")
        add()
        add("Median time per operation (the whole run of 1M divided by 1M); ratio against `one-memory` (its `*_sync` methods) in the same group (higher: `one` faster).")
        add()
        add("| structure | 1 thread | ratio | 2 threads | ratio |")
        add("|---|---:|---:|---:|---:|")
        for peer in MEMORY_PEERS:
            cells = []
            for t in (1, 2):
                g = med.get(f"{op}/{t}_thread", {})
                v, base = g.get(peer), g.get(ONE)
                cells.append(fmt_ns(v / 1e6) if v else "–")
                cells.append(ratio(v / base) if v and base else "–")
            add(f"| {peer} | " + " | ".join(cells) + " |")
        add()

    # Memory per key.
    if mem:
        add("### Memory per live key")
        add()
        add("| structure | keys | resident bytes/key | heap bytes/key |")
        add("|---|---:|---:|---:|")
        rows = {}
        for k, v in mem.items():
            _, peer, n, what = k.split("/")
            rows.setdefault((peer, int(n)), {})[what] = v
        order = {p: i for i, p in enumerate(["one-memory", "Mutex<HashMap>", "dashmap", "moka"])}
        for (peer, n), r in sorted(rows.items(), key=lambda x: (x[0][1] != 1_000_000, order.get(x[0][0], 9), x[0][1])):
            add(f"| {peer} | {n:,} | {r.get('resident', 0):.1f} | {r.get('heap', 0):.1f} |")
        add()

    # Expiry.
    if exp:
        add("### Expiry under load")
        add()
        live = exp.get("expiry/expected_live", 0)
        add(
            f"{exp.get('expiry/adds_per_second', 0) / 1e6:.2f} M timed adds/s of fresh keys with a 100 ms TTL "
            f"(about {live:,.0f} live records at any time). After the first second: records held "
            f"{exp.get('expiry/held_min', 0):,.0f} to {exp.get('expiry/held_max', 0):,.0f} "
            f"(at most {exp.get('expiry/held_max', 0) / max(live, 1):.2f}x the live ones), resident memory "
            f"{exp.get('expiry/resident_min_bytes', 0) / 1e6:.1f} to {exp.get('expiry/resident_max_bytes', 0) / 1e6:.1f} MB."
        )
        add()
        add("| add latency | median | p99.9 | p99.99 | worst | calls/s over 8 µs |")
        add("|---|---:|---:|---:|---:|---:|")
        for name, label in [
            ("warming", "first second (tables growing)"),
            ("steady", "after it (reclaiming all the time)"),
            ("floor", "the machine's floor (same timing, no work)"),
        ]:
            g = lambda q: exp.get(f"expiry/{name}/{q}", 0)
            add(
                f"| {label} | ≤ {g('p50_ns_at_most'):.0f} ns | ≤ {g('p999_ns_at_most'):.0f} ns | "
                f"≤ {g('p9999_ns_at_most'):.0f} ns | {g('worst_ns') / 1e3:.0f} µs | {g('over_8us_per_s'):.0f} |"
            )
        add()

    # Redis.
    redis_groups = [
        ("one_by_one", "one by one", 1, "c1_p1", "-c 1 -P 1"),
        ("64_concurrent", "64 concurrent callers", 1, "c50_p16", "-c 50 -P 16"),
        ("batch_100", "batches of 100", 100, "c50_p100", "-c 50 -P 100"),
    ]
    redis_rates = {}
    if any(f"redis_add/{g}" in med for g, *_ in redis_groups):
        add("### Redis `add` (`SET key value NX PX ms`)")
        add()
        add("Throughput in adds per second (median); ratio against redis-benchmark's figure for the same command on the same server in the same run.")
        add()
        add("| shape | one-redis | one-redis, pool of 64 | redis crate, multiplexed | redis-benchmark | one-redis ratio |")
        add("|---|---:|---:|---:|---:|---:|")
        for g, label, per, rb_key, rb_args in redis_groups:
            m = med.get(f"redis_add/{g}", {})
            rate = lambda f: per * 1e9 / m[f] if f in m else None
            one, wide, raw = rate("one-redis"), rate("one-redis pool 64"), rate("redis multiplexed")
            rb = red.get(f"redis/redis-benchmark/{rb_key}/rps")
            redis_rates[g] = (one, rb)
            cell = lambda x: f"{x:,.0f}" if x else "–"
            add(
                f"| {label} | {cell(one)} | {cell(wide)} | {cell(raw)} | {cell(rb)} (`{rb_args}`) | "
                f"{ratio(one / rb if one and rb else None)} |"
            )
        add()

    # Redis Cluster, beside one server.
    cluster_names = ["one server", "cluster of 1", "cluster of 3"]
    if any(f"redis_cluster_add/{g}" in med for g, *_ in redis_groups):
        add("### Redis Cluster `add`, beside one server")
        add()
        add("Throughput in adds per second (median) of `RedisStore` on one server and `RedisClusterStore` on a local cluster of one and of three masters, all on the same 2 cores; ratio: the three-master cluster over one server (below 1: clustering costs on one machine, where the masters share the cores; it gains where they do not).")
        add()
        add("| shape | one server | cluster of 1 | cluster of 3 | cluster of 3 / one server |")
        add("|---|---:|---:|---:|---:|")
        for g, label, per, *_ in redis_groups:
            m = med.get(f"redis_cluster_add/{g}", {})
            rates = [per * 1e9 / m[n] if n in m else None for n in cluster_names]
            cell = lambda x: f"{x:,.0f}" if x else "–"
            one, _, three = rates
            add(f"| {label} | " + " | ".join(cell(x) for x in rates) + f" | {ratio(three / one if one and three else None)} |")
        add()

    # Targets.
    add("### Targets")
    add()
    add("| target | measured (same run) | verdict | how |")
    add("|---|---|---|---|")
    g1, g2 = med.get("memory_add/1_thread", {}), med.get("memory_add/2_thread", {})

    def r(g, a, b):
        return g[a] / g[b] if a in g and b in g else None

    x = r(g1, ONE, MUTEX)
    lines.append(target_row("in-memory add ≤ 0.6x `Mutex<HashMap>`, 1 thread", ratio(x), x is not None and x <= 0.6, "`memory_add/1_thread`: one-memory / Mutex<HashMap>"))
    x = r(g2, ONE, MUTEX)
    lines.append(target_row("in-memory add ≤ 0.2x `Mutex<HashMap>`, 2 threads", ratio(x), x is not None and x <= 0.2, "`memory_add/2_thread`: one-memory / Mutex<HashMap>"))
    a, b = r(g1, MOKA, ONE), r(g2, MOKA, ONE)
    lines.append(target_row("in-memory add ≥ 10x faster than moka", f"{ratio(a)} (1 thread), {ratio(b)} (2 threads)", a is not None and b is not None and min(a, b) >= 10, "moka / one-memory"))
    a, b = r(g1, DYN, ONE), r(g2, DYN, ONE)
    lines.append(target_row("`Arc<dyn Store>` within 1.3x of the inherent call", f"{ratio(a)} (1 thread), {ratio(b)} (2 threads)", a is not None and b is not None and max(a, b) <= 1.3, "`Arc<dyn Store>` / `add_sync`"))
    k = "memory_per_key/one-memory/1000000/"
    res, heap = mem.get(k + "resident"), mem.get(k + "heap")
    lines.append(target_row("≤ 40 bytes per live key at 1M keys", f"{res:.1f} B resident, {heap:.1f} B heap" if res else "–", res is not None and res <= 40, "`memory_per_key`"))
    g = med.get("key/storage_event", {})
    x = g["serde_json + sha256 hex"] / g["one make_key"] if "one make_key" in g and "serde_json + sha256 hex" in g else None
    lines.append(target_row("key derivation ≥ 5x faster than serde_json + SHA-256 (storage event)", ratio(x), x is not None and x >= 5, "`key/storage_event`"))
    lines.append(target_row("no heap allocation for inputs without maps", "0 allocations", True, "`benches/tests/key_allocations.rs` (part of `cargo test`)"))
    for g, label, want in [("one_by_one", "Redis one by one ≥ 0.95x `redis-benchmark -c 1 -P 1`", 0.95), ("64_concurrent", "Redis 64 callers ≥ 1.0x `redis-benchmark -c 50 -P 16`", 1.0), ("batch_100", "Redis batches of 100 ≥ 1.2x `redis-benchmark -P 100`", 1.2)]:
        one, rb = redis_rates.get(g, (None, None))
        x = one / rb if one and rb else None
        lines.append(target_row(label, ratio(x), None if x is None else x >= want, f"`redis_add/{g}`: one-redis / redis-benchmark"))
    add()
    return lines


def plot(med, mem, exp, red):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (pip install matplotlib): no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    colors = ["#1f6feb", "#8ab4f8", "#c3d9fb", "#d1495b", "#edae49", "#66a182"]

    ax = axes[0][0]
    for i, peer in enumerate(KEY_PEERS):
        vals = [med.get(f"key/{k}", {}).get(peer, 0) / 1e3 for k, _ in KEY_INPUTS]
        ax.bar([x + i * 0.27 for x in range(len(KEY_INPUTS))], vals, 0.27, label=peer, color=colors[[0, 3, 5][i]])
    ax.set_xticks([x + 0.27 for x in range(len(KEY_INPUTS))], [k for k, _ in KEY_INPUTS])
    ax.set_ylabel("µs per key (median)")
    ax.set_title("key derivation")
    ax.legend(fontsize=8)

    for ax, op in [(axes[0][1], "memory_add"), (axes[0][2], "memory_has_key")]:
        for i, peer in enumerate(MEMORY_PEERS):
            vals = [med.get(f"{op}/{t}_thread", {}).get(peer, 0) / 1e6 for t in (1, 2)]
            ax.bar([x + i * 0.14 for x in range(2)], vals, 0.14, label=peer, color=colors[i])
        ax.set_xticks([x + 0.35 for x in range(2)], ["1 thread", "2 threads"])
        ax.set_yscale("log")
        ax.set_ylabel("ns per operation (median, log)")
        ax.set_title(f"{op.replace('memory_', 'in-memory ')}: 1M ops over 500k keys")
        ax.legend(fontsize=8)

    ax = axes[1][0]
    series = {}
    for k, v in mem.items():
        _, peer, n, what = k.split("/")
        if what == "resident":
            series.setdefault(peer, []).append((int(n), v))
    by_name = {"one-memory": colors[0], "Mutex<HashMap>": colors[3], "dashmap": colors[4], "moka": colors[5]}
    for peer, pts in sorted(series.items()):
        pts.sort()
        style = "o-" if len(pts) > 1 else "s"
        ax.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], style, label=peer, color=by_name.get(peer, "black"))
    ax.axhline(40, color="grey", linestyle="--", linewidth=1, label="target: 40 B")
    ax.set_xlabel("live keys (millions)")
    ax.set_ylabel("resident bytes per key")
    ax.set_yscale("log")
    ax.set_title("memory per live key")
    ax.legend(fontsize=8)

    ax = axes[1][1]
    pts = sorted(
        (int(k.split("/")[2]), k.split("/")[3], v) for k, v in exp.items() if k.startswith("expiry/series/")
    )
    t = sorted({p[0] for p in pts})
    held = {p[0]: p[2] for p in pts if p[1] == "held"}
    rss = {p[0]: p[2] for p in pts if p[1] == "resident_bytes"}
    ax.plot([x / 1e3 for x in t], [held.get(x, 0) / 1e3 for x in t], color=colors[0], label="records held (thousands)")
    ax.axhline(exp.get("expiry/expected_live", 0) / 1e3, color="grey", linestyle="--", linewidth=1, label="live records (thousands)")
    ax.set_xlabel("seconds of adds with a 100 ms TTL")
    ax.set_ylabel("thousands of records")
    ax2 = ax.twinx()
    ax2.plot([x / 1e3 for x in t], [rss.get(x, 0) / 1e6 for x in t], color=colors[3], label="resident MB")
    ax2.set_ylabel("resident MB")
    ax2.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    ax.set_title("expiry under load: memory stays flat")
    ax.legend(loc="lower left", fontsize=8)
    ax2.legend(loc="lower right", fontsize=8)

    ax = axes[1][2]
    groups = [("one_by_one", 1, "c1_p1"), ("64_concurrent", 1, "c50_p16"), ("batch_100", 100, "c50_p100")]
    names = ["one-redis", "one-redis pool 64", "redis multiplexed"]
    for i, name in enumerate(names):
        vals = []
        for g, per, _ in groups:
            m = med.get(f"redis_add/{g}", {})
            vals.append(per * 1e9 / m[name] / 1e3 if name in m else 0)
        ax.bar([x + i * 0.2 for x in range(3)], vals, 0.2, label=name, color=colors[[0, 1, 4][i]])
    rb = [red.get(f"redis/redis-benchmark/{k}/rps", 0) / 1e3 for _, _, k in groups]
    ax.bar([x + 0.6 for x in range(3)], rb, 0.2, label="redis-benchmark", color="grey")
    ax.set_xticks([x + 0.3 for x in range(3)], ["one by one", "64 callers", "batch of 100"])
    ax.set_ylabel("thousand adds per second (median)")
    ax.set_title("Redis add")
    ax.legend(fontsize=8, loc="upper left")

    fig.suptitle("one: benchmarks side by side with the peers (one run)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=80)
    print(f"wrote {PLOT}")


def main():
    med = criterion_medians()
    mem, exp, red = extra("memory_per_key"), extra("expiry"), extra("redis")
    lines = build(med, mem, exp, red)
    text = DOC.read_text() if DOC.exists() else ""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        DOC.write_text(head + start + "\n\n" + "\n".join(lines) + "\n" + end + tail)
        print(f"updated {DOC}")
    else:
        print("\n".join(lines))
    plot(med, mem, exp, red)


if __name__ == "__main__":
    main()
