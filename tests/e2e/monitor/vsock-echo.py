#!/usr/bin/env python3
"""vsock-echo.py SOCKET READY_FILE — the host side of the monitor's vsock
test: listens on the unix socket the monitor connects a guest port to,
answers the first line it receives with "echo:<line>" and exits."""
import os
import socket
import sys

path, ready = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(60)
open(ready, "w").close()
conn, _ = srv.accept()
conn.settimeout(30)
data = b""
while b"\n" not in data:
    chunk = conn.recv(4096)
    if not chunk:
        break
    data += chunk
conn.sendall(b"echo:" + data.split(b"\n")[0] + b"\n")
conn.close()
srv.close()
os.unlink(path)
