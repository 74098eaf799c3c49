# tests/e2e/cli/console-receiver.py SOCKET OUT [SECONDS]
#
# What an engine does with --console-socket: listen on the unix socket
# SOCKET, accept one connection, take the pty master the runtime sends with
# SCM_RIGHTS, and copy everything read from it to OUT (flushed as it comes)
# until the pty's other side is closed (EIO/EOF) or SECONDS pass (default 60).
# OUT gets a last line "receiver: ..." telling how it ended (fd received or
# not, eof or timeout). Exits 0 when a pty master was received.
import array
import os
import select
import socket
import sys
import time

path, out_path = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
deadline = time.monotonic() + limit

try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
out = open(out_path, "ab", buffering=0)


def done(msg, rc):
    out.write(("\nreceiver: %s\n" % msg).encode())
    sys.exit(rc)


r, _, _ = select.select([srv], [], [], limit)
if not r:
    done("no connection", 1)
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
if not fds:
    done("no fd received (message %r)" % msg, 1)
master = fds[0]
out.write(b"receiver: got fd, name %s\n" % msg)
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        done("timeout", 0)
    r, _, _ = select.select([master], [], [], left)
    if not r:
        continue
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: every slave fd is closed
        done("eof", 0)
    if not data:
        done("eof", 0)
    out.write(data)
