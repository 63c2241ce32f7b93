#!/usr/bin/env python3
"""Builds a large .evtx for the reader's speed figure from real recordings' chunks.

Usage: scripts/make-evtx-bench.py SAMPLES_DIR OUT CHUNKS [MIN_RECORDS]

An .evtx chunk is self-contained (its own string and template tables), so a file made of one
real file header followed by the real chunks of every sample (scripts/fetch-evtx-samples.sh),
repeated up to CHUNKS chunks, holds only records Windows wrote, in the volume a busy domain
controller's Security log reaches. Record ids repeat across the copies; the reader's speed does
not depend on them. MIN_RECORDS keeps only chunks holding at least that many records: a busy
log's chunks are full (a 64 KiB chunk holds 60 to 150 records), while most sample files hold a
few records in a chunk of their own, whose fixed cost would dominate the figure.
"""
import struct
import glob
import gzip
import os
import sys

HEADER, CHUNK = 4096, 65536


def main() -> None:
    samples, out, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    min_records = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    header, chunks = None, []
    for path in sorted(glob.glob(os.path.join(samples, "*.evtx.gz"))):
        with gzip.open(path) as f:
            data = f.read()
        header = header or data[:HEADER]
        for off in range(HEADER, len(data) - CHUNK + 1, CHUNK):
            chunk = data[off : off + CHUNK]
            # The chunk header's first and last record numbers (bytes 8 and 16).
            first, last = struct.unpack_from("<QQ", chunk, 8)
            if chunk.startswith(b"ElfChnk\0") and last - first + 1 >= min_records:
                chunks.append(chunk)
    if header is None or not chunks:
        sys.exit(f"no .evtx.gz samples with chunks in {samples}")
    with open(out, "wb") as f:
        f.write(header)
        for i in range(want):
            f.write(chunks[i % len(chunks)])
    print(f"{out}: {want} chunks from {len(chunks)} real ones")


if __name__ == "__main__":
    main()
