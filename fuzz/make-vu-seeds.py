#!/usr/bin/env python3
"""Writes the seed corpora of the vu_backend, vu_chain, vu_frontend,
blk_request, input_request and console_request fuzz targets: a well-formed
vhost-user session, well-formed rings, a back-end's well-formed replies,
valid virtio-blk requests and input/console buffers, which the fuzzers
then mutate. Run from anywhere; rewrites their seed-*."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(code, payload=b"", flags=1):
    return struct.pack("<III", code, flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


USER = 0x7F0000000000


def running_rings(enable=(0, 1)):
    """Set-up up to both rings started on one 64 KiB region."""
    user = USER
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
        if q in enable:
            out += msg(18, struct.pack("<II", q, 1))  # SET_VRING_ENABLE
    return out


def session():
    out = running_rings()
    out += msg(24, struct.pack("<III", 0, 8, 0) + bytes(8))  # GET_CONFIG
    out += msg(31, struct.pack("<QQHH4x", 0, 0, 2, 8))      # GET_INFLIGHT_FD
    out += msg(11, struct.pack("<II", 0, 0))     # GET_VRING_BASE
    out += msg(34)                               # RESET_DEVICE
    return out


def refused_remap():
    """A new table that no longer holds the rings, sent while they run:
    queue 0 fails to restart, and queue 1 must not be left on the old,
    unmapped memory (fuzz.vu_backend found this). Queue 1 is enabled by
    SET_FEATURES without PROTOCOL_FEATURES, which leaves its kick pending
    for the harness's final loop pass. The new region is one page, so
    its mapping cannot land on the freed pages the old rings point at."""
    region = struct.pack("<QQQQ", 0, 0x1000, USER + (1 << 20), 0)
    return (running_rings(enable=(0,)) + msg(2, u64(1 << 32))
            + msg(5, struct.pack("<II", 1, 0) + region))


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


def replies():
    """What a well-behaved back-end answers UserDriver's set-up with."""
    R = 5  # version 1 | reply
    ack = lambda code: msg(code, u64(0), R)
    out = msg(1, u64(1 << 32 | 1 << 30), R)          # GET_FEATURES
    out += msg(15, u64(1 << 0 | 1 << 3 | 1 << 9), R)  # GET_PROTOCOL_FEATURES
    # SET_PROTOCOL_FEATURES is sent before REPLY_ACK is on: no ack
    out += msg(17, u64(2), R)                         # GET_QUEUE_NUM
    out += ack(3) + ack(2) + ack(5)                   # SET_OWNER, SET_FEATURES, SET_MEM_TABLE
    for _ in range(2):
        out += ack(8) + ack(10) + ack(9) + ack(12) + ack(13) + ack(18)
    out += msg(24, struct.pack("<III", 0, 16, 0) + bytes(range(16)), R)  # GET_CONFIG
    out += msg(11, struct.pack("<II", 0, 3), R)      # GET_VRING_BASE
    return out


def blk_requests():
    """Driver memory for fuzz/blk_request_fuzz.cpp: desc 0x0, avail 0x100,
    used 0x200, buffers from 0x1000 (guest address = offset)."""
    mem = bytearray(0x8000)

    def desc(i, addr, length, flags, nxt=0):
        struct.pack_into("<QIHH", mem, 16 * i, addr, length, flags, nxt)

    heads = []
    # read sector 1: hdr, 1024 data, status
    struct.pack_into("<IIQ", mem, 0x1000, 0, 0, 1)
    desc(0, 0x1000, 16, 1, 1); desc(1, 0x2000, 1024, 3, 2); desc(2, 0x3000, 1, 2); heads.append(0)
    # write sector 4 from 512 bytes
    struct.pack_into("<IIQ", mem, 0x1010, 1, 0, 4)
    desc(3, 0x1010, 16, 1, 4); desc(4, 0x4000, 512, 1, 5); desc(5, 0x3001, 1, 2); heads.append(3)
    # discard 8 sectors at 16
    struct.pack_into("<IIQ", mem, 0x1020, 11, 0, 0)
    struct.pack_into("<QII", mem, 0x5000, 16, 8, 0)
    desc(6, 0x1020, 16, 1, 7); desc(7, 0x5000, 16, 1, 8); desc(8, 0x3002, 1, 2); heads.append(6)
    # get id
    struct.pack_into("<IIQ", mem, 0x1030, 8, 0, 0)
    desc(9, 0x1030, 16, 1, 10); desc(10, 0x6000, 20, 3, 11); desc(11, 0x3003, 1, 2); heads.append(9)
    struct.pack_into("<HH", mem, 0x100, 0, len(heads))
    for k, h in enumerate(heads):
        struct.pack_into("<H", mem, 0x104 + 2 * k, h)
    return bytes(mem)


def two_queue_memory(queue0, queue1):
    """Driver memory for fuzz/fuzzed_rings.cpp with two queues: each is a
    list of chains, each chain a list of (address, length, writable)."""
    mem = bytearray(0x8000)
    for q, chains in enumerate((queue0, queue1)):
        base = 0x400 * q
        i = 0
        heads = []
        for chain in chains:
            heads.append(i)
            for k, (addr, length, writable) in enumerate(chain):
                last = k == len(chain) - 1
                flags = (0 if last else 1) | (2 if writable else 0)
                struct.pack_into("<QIHH", mem, base + 16 * i, addr, length, flags, 0 if last else i + 1)
                i += 1
        struct.pack_into("<HH", mem, base + 0x100, 0, len(heads))
        for k, h in enumerate(heads):
            struct.pack_into("<H", mem, base + 0x104 + 2 * k, h)
    return mem


def input_requests():
    """Four 8-byte event buffers; one LED status event from the driver."""
    mem = two_queue_memory([[(0x1000 + 8 * k, 8, True)] for k in range(4)],
                           [[(0x2000, 8, False)]])
    struct.pack_into("<HHI", mem, 0x2000, 0x11, 0, 1)  # EV_LED LED_NUML on
    return bytes(mem)


def console_requests():
    """Two 64-byte receive buffers; one transmit buffer of output."""
    mem = two_queue_memory([[(0x1000, 64, True)], [(0x1040, 64, True)]],
                           [[(0x2000, 12, False)]])
    mem[0x2000:0x200c] = b"guest output"
    return bytes(mem)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


write(os.path.join(HERE, "corpus/vu_backend/seed-session"), session())
write(os.path.join(HERE, "corpus/vu_backend/seed-refused-remap"), refused_remap())
write(os.path.join(HERE, "corpus/vu_chain/seed-direct"), ring(False))
write(os.path.join(HERE, "corpus/vu_chain/seed-indirect"), ring(True))
write(os.path.join(HERE, "corpus/vu_frontend/seed-replies"), replies())
write(os.path.join(HERE, "corpus/blk_request/seed-requests"), blk_requests())
write(os.path.join(HERE, "corpus/input_request/seed-requests"), input_requests())
write(os.path.join(HERE, "corpus/console_request/seed-requests"), console_requests())
