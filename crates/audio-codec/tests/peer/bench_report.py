"""Turns the criterion results of `cargo bench -p kav-audio-codec --bench codec` and the JSON of
bench_peer.py into the markdown tables of BENCHMARKS.md (## kav-audio-codec).

Usage: bench_report.py CRITERION_DIR PEER_JSON
"""
import json
import pathlib
import sys

crit = pathlib.Path(sys.argv[1])
peer = json.loads(pathlib.Path(sys.argv[2]).read_text())

rust = {}
best = {}
for bench in crit.glob("**/new/benchmark.json"):
    meta = json.loads(bench.read_text())
    est = json.loads((bench.parent / "estimates.json").read_text())
    med = est["median"]
    rust[meta["full_id"]] = (
        med["point_estimate"],
        med["confidence_interval"]["lower_bound"],
        med["confidence_interval"]["upper_bound"],
    )
    # The best of criterion's samples (each the mean of many iterations): the statistic
    # timeit's "best of 7 repeats" gives for the Python peers, so that the speed-ups compare
    # like with like; the medians are what a loaded machine gives.
    sample = json.loads((bench.parent / "sample.json").read_text())
    best[meta["full_id"]] = min(t / i for t, i in zip(sample["times"], sample["iters"]))


def get(full_id):
    if full_id not in rust:
        sys.exit(f"missing criterion result {full_id}: run the bench first")
    return rust[full_id]


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


print("### G.711 and PCM (ns per sample: criterion median and best sample; best of 7 timeit repeats for audioop)\n")
print("| operation | frame | kav-audio-codec median | kav best sample | audioop (CPython " + peer["python"] + ") | speed-up, best ÷ best | speed-up, kav median | memcpy of the n G.711 bytes / 2n PCM16 bytes (median) | kav ÷ memcpy(2n), medians |")
print("|---|---|---|---|---|---|---|---|---|")
for n in (160, 8000):
    mc1 = get(f"g711/{n}/memcpy_n_bytes")[0] / n
    mc2 = get(f"g711/{n}/memcpy_2n_bytes")[0] / n
    for ours, theirs, label in (
        ("ulaw_encode_into", "lin2ulaw", "μ-law encode"),
        ("ulaw_decode_into", "ulaw2lin", "μ-law decode"),
        ("alaw_encode_into", "lin2alaw", "A-law encode"),
        ("alaw_decode_into", "alaw2lin", "A-law decode"),
    ):
        k = get(f"g711/{n}/{ours}")[0] / n
        kb = best[f"g711/{n}/{ours}"] / n
        p = peer[f"{theirs}_{n}_ns_per_sample"]
        print(f"| {label} | {n} samples | {k:.3f} | {kb:.3f} | {p:.3f} | {p / kb:.1f}× | {p / k:.1f}× | {mc1:.3f} / {mc2:.3f} | {k / mc2:.1f}× |")
    for op in ("pcm16le_to_i16_into", "i16_to_f32_into"):
        k = get(f"g711/{n}/{op}")[0] / n
        kb = best[f"g711/{n}/{op}"] / n
        print(f"| `{op}` | {n} samples | {k:.3f} | {kb:.3f} | — | — | — | {mc1:.3f} / {mc2:.3f} | {k / mc2:.1f}× |")

print("\n### Streaming resampling, one 20 ms chunk (mono i16)\n")
print("| pair | kav-audio-codec median (95 % CI) | kav best sample | × real time per core (best) | soxr " + peer["soxr"] + " `ResampleStream` HQ (best of 7) | × real time | kav speed-up, best ÷ best | kav speed-up, kav median | soxr one-shot per chunk (what clicks) |")
print("|---|---|---|---|---|---|---|---|---|")
for src, dst in ((8000, 24000), (24000, 8000), (8000, 16000), (16000, 8000), (16000, 24000), (8000, 48000)):
    med, lo, hi = get(f"resample_20ms_chunk/{src}->{dst}")
    b = best[f"resample_20ms_chunk/{src}->{dst}"]
    s = peer[f"soxr_hq_{src}_{dst}_ns_per_chunk"]
    s1 = peer[f"soxr_hq_oneshot_{src}_{dst}_ns_per_chunk"]
    print(f"| {src // 1000}→{dst // 1000} kHz | {fmt_ns(med)} ({fmt_ns(lo)}–{fmt_ns(hi)}) | {fmt_ns(b)} | {20e6 / b:,.0f} | {fmt_ns(s)} | {20e6 / s:,.0f} | {s / b:.1f}× | {s / med:.1f}× | {fmt_ns(s1)} |")

print("\n### VAD and framer\n")
print("| operation | kav-audio-codec median (95 % CI) | best sample |")
print("|---|---|---|")
for fid, label in (
    ("vad/20ms_frame", "VAD, one 20 ms frame (160 linear samples)"),
    ("vad/20ms_ulaw_frame", "VAD, one 20 ms μ-law frame (decode included)"),
    ("framer/1s_in_333_byte_chunks", "framer, 1 s of μ-law in 333-byte chunks (50 frames)"),
):
    med, lo, hi = get(fid)
    print(f"| {label} | {fmt_ns(med)} ({fmt_ns(lo)}–{fmt_ns(hi)}) | {fmt_ns(best[fid])} |")
