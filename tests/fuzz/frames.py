#!/usr/bin/env python3
"""Frames pgoutput messages for the fuzz corpus (tests/fuzz/make-corpus runs it).

stdin: one "<lsn> <hex payload>" line per pgoutput message, as
pg_logical_slot_get_binary_changes returns them. argv[1]: "<oid>=<fixed oid>" lines, the
relation OIDs to rewrite. stdout: the fuzz input (tests/fuzz/frames.h): each message as an
XLogData frame, then two primary keepalives, each frame as a 2-byte big-endian length + bytes.
"""
import struct
import sys

SEND_TIME = 768_000_000_000_000  # 2024-05-01 in Postgres-epoch microseconds


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def remap(payload, oids):
    """Rewrites the relation OIDs of Relation, Insert, Update, Delete and Truncate messages."""
    p = bytearray(payload)

    def at(off):
        old = struct.unpack_from(">I", p, off)[0]
        struct.pack_into(">I", p, off, oids.get(old, old))

    if p[0:1] in (b"R", b"I", b"U", b"D"):
        at(1)
    elif p[0:1] == b"T":
        count = struct.unpack_from(">i", p, 1)[0]
        for i in range(count):
            at(6 + 4 * i)
    return bytes(p)


def frame(body):
    if len(body) > 0xFFFF:
        sys.exit(f"frames.py: a frame of {len(body)} bytes does not fit the 2-byte length")
    return struct.pack(">H", len(body)) + body


def main():
    oids = {}
    for line in sys.argv[1].split():
        old, new = line.split("=")
        oids[int(old)] = int(new)
    out = bytearray()
    end = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        pos, hexdata = line.split()
        start = lsn(pos)
        end = max(end, start)
        payload = remap(bytes.fromhex(hexdata), oids)
        out += frame(b"w" + struct.pack(">QQq", start, start, SEND_TIME) + payload)
    out += frame(b"k" + struct.pack(">Qq", end, SEND_TIME) + b"\x00")
    out += frame(b"k" + struct.pack(">Qq", end, SEND_TIME + 1) + b"\x01")
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main()
