#!/usr/bin/env python3
"""Searches captured loopback payload bytes for any client's update (scripts/federation-check wire).

usage: wire-scan.py PAYLOAD UPDATES.json

UPDATES.json (written by LoopbackRoundTests under PLLM_FEDCHECK_UPDATES) lists, per round and
client, the update it computed (`raw`), the same after clipping (`clipped`) and the fixed-point
scale bits. The scan looks, at every byte offset of the payload, for

  * 4 consecutive coordinates of `raw` or `clipped` as little-endian float32 (16 bytes), and
  * 3 consecutive coordinates of `clipped` in fixed point as little-endian 32-bit words, allowing
    for stochastic rounding and the test's DP noise: each word may be any of
    floor(x*2^k) - 1 ... floor(x*2^k) + 2 (4^3 = 64 patterns of 12 bytes per window).

Before the real payload it runs the same scan on a control buffer (random bytes with one update
planted in each encoding) and fails if it misses them, so a silent scanner cannot pass.
Exit 0 when nothing is found, 1 when an update is on the wire, 2 on a broken scanner or input.
"""
import json
import math
import os
import struct
import sys
from collections import defaultdict


def fixed_candidates(x, scale_bits):
    f = math.floor(x * (1 << scale_bits))
    return [struct.pack("<I", (f + d) & 0xFFFFFFFF) for d in (-1, 0, 1, 2)]


def scan(payload, updates):
    """Returns a list of (what, round, client, coordinate, offset) hits."""
    hits = []
    words = defaultdict(list)  # 4-byte value -> offsets where it starts
    for off in range(len(payload) - 3):
        words[payload[off:off + 4]].append(off)
    for u in updates:
        for name in ("raw", "clipped"):
            v = u[name]
            for k in range(len(v) - 3):
                pattern = struct.pack("<4f", *v[k:k + 4])
                off = payload.find(pattern)
                if off >= 0:
                    hits.append(("float32 " + name, u["round"], u["client"], k, off))
        cand = [fixed_candidates(x, u["scaleBits"]) for x in u["clipped"]]
        for k in range(len(cand) - 2):
            later = (set(cand[k + 1]), set(cand[k + 2]))
            for first in cand[k]:
                for off in words.get(first, ()):
                    if payload[off + 4:off + 8] in later[0] and payload[off + 8:off + 12] in later[1]:
                        hits.append(("fixed-point", u["round"], u["client"], k, off))
    return hits


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    payload = open(sys.argv[1], "rb").read()
    updates = json.load(open(sys.argv[2]))
    if not updates or any(len(u["clipped"]) < 4 for u in updates):
        print("wire-scan: no updates (or vectors shorter than 4) to search for", file=sys.stderr)
        return 2

    # Positive control: plant one update as float32 and another in fixed point (rounded down).
    a, b = updates[0], updates[-1]
    control = bytearray(os.urandom(4096))
    control += struct.pack("<%df" % len(a["raw"]), *a["raw"]) + os.urandom(777)
    control += b"".join(struct.pack("<I", math.floor(x * (1 << b["scaleBits"])) & 0xFFFFFFFF) for x in b["clipped"])
    control += os.urandom(333)
    found = {h[0] for h in scan(bytes(control), [a, b])}
    if not {"float32 raw", "fixed-point"} <= found:
        print("wire-scan: the positive control failed (found %s); the scanner is broken" % sorted(found), file=sys.stderr)
        return 2

    hits = scan(payload, updates)
    coords = sum(len(u["clipped"]) for u in updates)
    print("wire-scan: %d updates (%d coordinates) searched in %d payload bytes as float32 and fixed point; "
          "control buffer found both" % (len(updates), coords, len(payload)))
    for what, rnd, client, k, off in hits[:20]:
        print("  FOUND %s of client %d in round %d, coordinates %d.., at payload offset %d" % (what, client, rnd, k, off))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
