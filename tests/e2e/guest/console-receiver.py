#!/usr/bin/env python3
"""tests/e2e/guest/console-receiver.py SOCKET OUTPUT -- CMD [ARG...]

A console-socket receiver for the e2e tests: listens on the AF_UNIX stream
socket SOCKET, runs CMD (which is given --console-socket SOCKET by the
caller), receives the pty master that the runtime sends with SCM_RIGHTS,
and copies everything read from the master to OUTPUT until the pty
closes (EIO once every slave is gone) and CMD has exited. Exits with CMD's
status; 125 when no master arrived or the receiver itself failed.
"""
import errno
import os
import select
import socket
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__.strip(), file=sys.stderr)
        return 125
    path, output, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    child = subprocess.Popen(cmd)
    master = None
    deadline = time.monotonic() + 300
    out = open(output, "wb")

    # Wait for the runtime to connect and send the master.
    while master is None:
        if child.poll() is not None:
            break
        r, _, _ = select.select([srv], [], [], 0.2)
        if not r:
            continue
        conn, _ = srv.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 4096, 4)
        if fds:
            master = fds[0]
            for fd in fds[1:]:
                os.close(fd)
    srv.close()
    if master is None:
        print("console-receiver: no pty master received", file=sys.stderr)
        status = child.wait()
        return 125 if status == 0 else status

    # Copy the master's output until it reports EIO (no slave left: the
    # container and the runtime's end are gone) once the command is done;
    # with --detach that is when the container exits. Gives up 120 s after
    # the command ended, or at the overall deadline.
    done_at = None
    while time.monotonic() < deadline:
        if done_at is None and child.poll() is not None:
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at > 120:
            print("console-receiver: the pty never closed", file=sys.stderr)
            break
        r, _, _ = select.select([master], [], [], 0.2)
        if not r:
            continue
        try:
            data = os.read(master, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            out.write(data)
            out.flush()
        elif done_at is not None:
            break
        else:
            time.sleep(0.1)  # EIO before the command ended: a slave may come back
    out.close()
    os.close(master)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
