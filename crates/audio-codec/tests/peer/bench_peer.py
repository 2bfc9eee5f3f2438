"""Python side of scripts/audio-codec-bench.sh: times the reference implementations that Python
voice frameworks use, on the same data sizes as the criterion benches.

Prints one JSON object: nanoseconds per sample for audioop's G.711 (width 2) and per 20 ms chunk
for soxr's streaming resampler at quality "HQ" (what the frameworks use).
"""
import json
import math
import struct
import sys
import timeit
import warnings

import numpy as np
import soxr

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


def best_ns(fn, number):
    """Best of several repeats, in ns per call (the least disturbed by other processes)."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e9


def signal(n):
    return [int(math.sin(i * 0.07) * 12000) + (i * 7919 % 1024) - 512 for i in range(n)]


out = {"python": sys.version.split()[0], "soxr": soxr.__version__, "numpy": np.__version__}
for n in (160, 8000):
    pcm = struct.pack(f"<{n}h", *signal(n))
    codes = audioop.lin2ulaw(pcm, 2)
    number = 200_000 // n
    out[f"lin2ulaw_{n}_ns_per_sample"] = best_ns(lambda: audioop.lin2ulaw(pcm, 2), number) / n
    out[f"ulaw2lin_{n}_ns_per_sample"] = best_ns(lambda: audioop.ulaw2lin(codes, 2), number) / n
    out[f"lin2alaw_{n}_ns_per_sample"] = best_ns(lambda: audioop.lin2alaw(pcm, 2), number) / n
    out[f"alaw2lin_{n}_ns_per_sample"] = best_ns(lambda: audioop.alaw2lin(codes, 2), number) / n

for src, dst in ((8000, 24000), (24000, 8000), (8000, 16000), (16000, 8000), (16000, 24000), (8000, 48000)):
    chunk = np.array(signal(src // 50), dtype=np.int16)
    stream = soxr.ResampleStream(src, dst, 1, dtype="int16", quality="HQ")
    for _ in range(50):  # past the start-up
        stream.resample_chunk(chunk)
    ns = best_ns(lambda: stream.resample_chunk(chunk), 2000)
    out[f"soxr_hq_{src}_{dst}_ns_per_chunk"] = ns
    # The usual shortcut some frameworks take: a fresh one-shot resample per chunk.
    ns1 = best_ns(lambda: soxr.resample(chunk, src, dst, quality="HQ"), 2000)
    out[f"soxr_hq_oneshot_{src}_{dst}_ns_per_chunk"] = ns1

json.dump(out, sys.stdout, indent=1)
print()
