#!/usr/bin/env python3
"""Writes well-formed starting inputs for the fuzz targets (tests/fuzz/corpus/TARGET/seed-*):
real requests on valid queues, so the fuzzer starts from the device's deep paths and
mutates outward. Layout of an input: see each fuzz-*.c; RAM is the input's tail."""
import os, struct, sys

here = os.path.dirname(os.path.abspath(__file__))
QSIZE = 8
# two queues side by side: desc (16-aligned), avail, used (4-aligned)
QA = dict(desc=0x000, avail=0x080, used=0x0c0)
QB = dict(desc=0x120, avail=0x1a0, used=0x1c0)
DATA = 0x300


def qhdr(q):
    return struct.pack('<HI', QSIZE, q['desc']) + q['avail'].to_bytes(3, 'little') + q['used'].to_bytes(3, 'little')


class Ram:
    def __init__(self):
        self.b = bytearray(DATA)
        self.next = DATA
        self.nd = {}
        self.na = {}

    def alloc(self, data):
        gpa = self.next
        self.b += bytes(data)
        self.b += bytes((-len(self.b)) % 16)
        self.next = len(self.b)
        return gpa

    def chain(self, q, bufs):  # bufs: (gpa, len, writable)
        key = q['desc']
        first = self.nd.get(key, 0)
        for i, (gpa, ln, w) in enumerate(bufs):
            idx = first + i
            flags = (2 if w else 0) | (1 if i + 1 < len(bufs) else 0)
            struct.pack_into('<QIHH', self.b, q['desc'] + 16 * idx, gpa, ln, flags, idx + 1)
        self.nd[key] = first + len(bufs)
        slot = self.na.get(key, 0)
        struct.pack_into('<H', self.b, q['avail'] + 4 + 2 * slot, first)
        self.na[key] = slot + 1
        struct.pack_into('<H', self.b, q['avail'] + 2, slot + 1)


def write(target, name, data):
    d = os.path.join(here, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


def blk():
    for name, typ, sector, nbytes, w in (('read', 0, 1, 1024, True), ('write', 1, 2, 512, False),
                                         ('flush', 4, 0, 0, None), ('getid', 8, 0, 20, True)):
        r = Ram()
        hdr = r.alloc(struct.pack('<IIQ', typ, 0, sector))
        bufs = [(hdr, 16, False)]
        if nbytes:
            bufs.append((r.alloc(bytes(nbytes)), nbytes, w))
        bufs.append((r.alloc(b'\xff'), 1, True))
        r.chain(QA, bufs)
        write('blk', name, bytes([0x02]) + qhdr(QA) + bytes(r.b))


def virtq():
    r = Ram()
    a, b = r.alloc(bytes(64)), r.alloc(bytes(64))
    r.chain(QA, [(a, 64, False), (b, 64, True)])
    r.chain(QA, [(b, 32, True)])
    # an indirect table of two descriptors
    tbl = r.alloc(struct.pack('<QIHH', a, 16, 1, 1) + struct.pack('<QIHH', b, 16, 2, 0))
    r.chain(QA, [(tbl, 32, False)])
    struct.pack_into('<H', r.b, QA['desc'] + 16 * 3 + 12, 4)  # VRING_DESC_F_INDIRECT
    write('virtq', 'chains', bytes(range(16)) + qhdr(QA) + bytes(r.b))


def net():
    r = Ram()
    for i in range(4):
        r.chain(QA, [(r.alloc(bytes(1600)), 1600, True)])
    frame = bytes(12) + bytes([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]) + bytes(46)
    r.chain(QB, [(r.alloc(frame[:12]), 12, False), (r.alloc(frame[12:]), len(frame) - 12, False)])
    # no GUEST_TSO: a frame then fits in the few receive buffers given here
    feats = (1 << 0) | (1 << 1) | (1 << 5) | (1 << 11) | (1 << 15) | (1 << 16)
    head = struct.pack('<Q', feats) + (80).to_bytes(3, 'little') + bytes([3])
    write('net', 'txrx', head + qhdr(QA) + qhdr(QB) + bytes(r.b))


def vsock():
    def pkt(op, src_port, dst_port, payload=b'', typ=1, flags=0):
        return struct.pack('<QQIIIHHIII', 3, 2, src_port, dst_port, len(payload), typ, op, flags, 262144, 0) + payload
    for name, pkts in (('connect-send', [pkt(1, 5000, 1040), pkt(5, 5000, 1040, b'hello host\n'),
                                          pkt(4, 5000, 1040, flags=3)]),
                       ('no-listener', [pkt(1, 5001, 7), pkt(5, 5001, 7, b'x')]),
                       ('credit', [pkt(1, 5002, 1040), pkt(7, 5002, 1040), pkt(6, 5002, 1040), pkt(3, 5002, 1040)])):
        r = Ram()
        for i in range(4):
            r.chain(QA, [(r.alloc(bytes(44 + 256)), 44 + 256, True)])
        for p in pkts:
            h = r.alloc(p[:44])
            if len(p) > 44:
                r.chain(QB, [(h, 44, False), (r.alloc(p[44:]), len(p) - 44, False)])
            else:
                r.chain(QB, [(h, 44, False)])
        write('vsock', name, bytes([2]) + qhdr(QA) + qhdr(QB) + bytes(r.b))


def mmio():
    """Register-level driver sequences: reset, negotiate, lay out queues, DRIVER_OK, kick."""
    def acc(write, off, val=0, size=4):
        k = (1 if write else 0) | ({1: 0, 2: 1, 4: 2, 8: 3}[size] << 1)
        return struct.pack('<BHI', k, off, val)

    def setup(feat_lo, queues):
        a = [acc(1, 0x070, 0), acc(1, 0x070, 1), acc(1, 0x070, 3), acc(0, 0x000), acc(0, 0x008)]
        a += [acc(1, 0x014, 0), acc(0, 0x010), acc(1, 0x014, 1), acc(0, 0x010)]
        a += [acc(1, 0x024, 0), acc(1, 0x020, feat_lo), acc(1, 0x024, 1), acc(1, 0x020, 1)]
        a += [acc(1, 0x070, 0xb), acc(0, 0x070)]
        for i, q in queues:
            a += [acc(1, 0x030, i), acc(0, 0x034), acc(1, 0x038, QSIZE), acc(1, 0x080, q['desc']),
                  acc(1, 0x084, 0), acc(1, 0x090, q['avail']), acc(1, 0x094, 0), acc(1, 0x0a0, q['used']),
                  acc(1, 0x0a4, 0), acc(1, 0x044, 1)]
        a += [acc(1, 0x070, 0xf)]
        return a

    def kick(queues):
        a = [acc(1, 0x050, i) for i, _ in queues]
        return a + [acc(0, 0x060), acc(1, 0x064, 3), acc(0, 0x100, size=8), acc(0, 0x0fc)]

    # blk, read-write (kind & 3 == 1): a read and a write request
    r = Ram()
    for typ, w in ((0, True), (1, False)):
        hdr = r.alloc(struct.pack('<IIQ', typ, 0, 1))
        r.chain(QA, [(hdr, 16, False), (r.alloc(bytes(512)), 512, w), (r.alloc(b'\xff'), 1, True)])
    qs = [(0, QA)]
    a = setup(0, qs) + kick(qs) + [acc(1, 0x070, 0)]
    write('mmio', 'blk-rw', bytes([1 | (len(a) << 2)]) + b''.join(a) + bytes(r.b))

    # vsock (kind & 3 == 2): RX buffers, a REQUEST and a RW to the listening port
    r = Ram()
    for i in range(2):
        r.chain(QA, [(r.alloc(bytes(44 + 64)), 44 + 64, True)])
    for op, payload in ((1, b''), (5, b'hi\n')):
        p = struct.pack('<QQIIIHHIII', 3, 2, 6000, 1040, len(payload), 1, op, 0, 262144, 0) + payload
        bufs = [(r.alloc(p[:44]), 44, False)]
        if payload:
            bufs.append((r.alloc(payload), len(payload), False))
        r.chain(QB, bufs)
    qs = [(0, QA), (1, QB)]
    a = setup(0, qs) + kick(qs)
    write('mmio', 'vsock', bytes([2 | (len(a) << 2)]) + b''.join(a) + bytes(r.b))

    # net (kind & 3 == 3): a TX frame and RX buffers, no GUEST_TSO
    r = Ram()
    for i in range(2):
        r.chain(QA, [(r.alloc(bytes(1600)), 1600, True)])
    frame = bytes(12) + bytes([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]) + bytes(46)
    r.chain(QB, [(r.alloc(frame), len(frame), False)])
    qs = [(0, QA), (1, QB)]
    feats = (1 << 0) | (1 << 1) | (1 << 5) | (1 << 15) | (1 << 16)
    a = setup(feats, qs) + kick(qs)
    write('mmio', 'net', bytes([3 | (len(a) << 2)]) + b''.join(a) + bytes(r.b))


def json():
    """Text for fuzz-json: protocol messages as runvm-init sends them, and the
    lexer's corners (escapes, comments, brackets inside both)."""
    msgs = {
        'hello': '{"type":"hello","version":1,"kernel":"6.1.0"}',
        'exit': '{"type":"exit","status":137}',
        'stats': '{"type":"stats","data":{"cpu":{"usage":{"total":1,"percpu":[1,2]}},"pids":{"current":3}}}',
        'ps': '{"type":"ps","pids":[1,7,9]}',
        'error': '{"type":"error","message":"exec: \\"/bin/x\\": no such file \\u001b[2J"}',
        'lexer': '[1, -2.5e3, true, null, "a\\"[\\\\", {"x": [/* "[ */ [], // "\n {}]}]',
    }
    for name, text in msgs.items():
        write('json', name, text.encode())


blk()
virtq()
net()
vsock()
mmio()
json()
