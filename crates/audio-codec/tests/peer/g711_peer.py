"""Reference side of the G.711 differential test.

Prints one JSON object with what CPython's audioop (width 2) returns for every 16-bit sample
value (encoding) and every code (decoding), for both laws. One process does all of it.
"""
import json
import struct
import sys

import warnings

with warnings.catch_warnings():
    # Deprecated in 3.11, removed in 3.13: the peer venv pins 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

all_samples = struct.pack("<65536h", *range(-32768, 32768))
codes = bytes(range(256))

out = {
    "lin2ulaw": audioop.lin2ulaw(all_samples, 2).hex(),
    "lin2alaw": audioop.lin2alaw(all_samples, 2).hex(),
    "ulaw2lin": list(struct.unpack("<256h", audioop.ulaw2lin(codes, 2))),
    "alaw2lin": list(struct.unpack("<256h", audioop.alaw2lin(codes, 2))),
}
json.dump(out, sys.stdout)
