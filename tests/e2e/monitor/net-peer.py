#!/usr/bin/env python3
"""net-peer.py ADDR PAYLOAD RESULT READY — the host-side peer of the monitor's
network test, run in the network namespace of the guest's tap. On ADDR:5555
it sends PAYLOAD and closes (guest receives: GSO frames through mergeable
buffers); on ADDR:5556 it reads until EOF or len(PAYLOAD) bytes and writes
"<length> <md5>" of what it got to RESULT (guest sends). Creates READY once
both ports listen."""
import hashlib
import socket
import sys

addr, payload_path, result_path, ready = sys.argv[1:5]
with open(payload_path, "rb") as f:
    payload = f.read()


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(90)
    return s


send_srv, recv_srv = listener(5555), listener(5556)
open(ready, "w").close()

conn, _ = send_srv.accept()
conn.sendall(payload)
conn.close()

conn, _ = recv_srv.accept()
conn.settimeout(60)
got = bytearray()
while len(got) < len(payload):
    chunk = conn.recv(1 << 16)
    if not chunk:
        break
    got += chunk
conn.close()
with open(result_path, "w") as f:
    f.write("%d %s\n" % (len(got), hashlib.md5(got).hexdigest()))
