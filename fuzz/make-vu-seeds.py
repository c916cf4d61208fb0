#!/usr/bin/env python3
"""Writes the seed corpora of the vu_backend and vu_chain fuzz targets:
a well-formed vhost-user session and well-formed rings, which the fuzzer
then mutates. Run from anywhere; rewrites fuzz/corpus/vu_*/seed-*."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(code, payload=b"", flags=1):
    return struct.pack("<III", code, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def session():
    user = 0x7F0000000000
    out = msg(1) + msg(15)                      # GET_FEATURES, GET_PROTOCOL_FEATURES
    out += msg(16, u64(1 << 3 | 1 << 9 | 1 << 12))  # SET_PROTOCOL_FEATURES
    out += msg(3)                               # SET_OWNER
    out += msg(2, u64(1 << 32 | 1 << 30 | 1 << 28 | 1 << 29))  # SET_FEATURES
    out += msg(5, struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 1 << 16, user, 0))
    for q in (0, 1):
        out += msg(8, struct.pack("<II", q, 8))  # SET_VRING_NUM
        out += msg(10, struct.pack("<II", q, 0))  # SET_VRING_BASE
        base = user + q * 0x3000
        out += msg(9, struct.pack("<IIQQQQ", q, 0, base, base + 0x2000, base + 0x1000, 0))
        out += msg(12, u64(q))                   # SET_VRING_KICK (fd supplied by the harness)
        out += msg(13, u64(q | 1 << 8))          # SET_VRING_CALL, no fd
        out += msg(18, struct.pack("<II", q, 1))  # SET_VRING_ENABLE
    out += msg(24, struct.pack("<III", 0, 8, 0) + bytes(8))  # GET_CONFIG
    out += msg(31, struct.pack("<QQHH4x", 0, 0, 2, 8))      # GET_INFLIGHT_FD
    out += msg(11, struct.pack("<II", 0, 0))     # GET_VRING_BASE
    out += msg(34)                               # RESET_DEVICE
    return out


def ring(indirect):
    base = 0x10000
    mem = bytearray(0x10000)

    def desc(table_off, i, addr, length, flags, nxt):
        struct.pack_into("<QIHH", mem, table_off + 16 * i, addr, length, flags, nxt)

    # layout of fuzz/vu_chain_fuzz.cpp: desc 0x0, avail 0x800, used 0xa00
    if indirect:
        desc(0, 0, base + 0x1000, 32, 4, 0)
        desc(0x1000, 0, base + 0x1100, 16, 1, 1)
        desc(0x1000, 1, base + 0x1200, 512, 2, 0)
    else:
        desc(0, 0, base + 0x1100, 16, 1, 1)
        desc(0, 1, base + 0x1200, 512, 3, 2)
        desc(0, 2, base + 0x1400, 1, 2, 0)
    struct.pack_into("<HHH", mem, 0x800, 0, 1, 0)  # avail: flags, idx=1, ring[0]=0
    return bytes([3, 3 if indirect else 0]) + bytes(mem[:0x1500])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


write(os.path.join(HERE, "corpus/vu_backend/seed-session"), session())
write(os.path.join(HERE, "corpus/vu_chain/seed-direct"), ring(False))
write(os.path.join(HERE, "corpus/vu_chain/seed-indirect"), ring(True))
