#!/usr/bin/env python3
"""Plays systemd's NOTIFY_SOCKET for the load test: binds a datagram socket at PATH and appends every
notification line to LOG as "<CLOCK_MONOTONIC seconds> <KEY=value>", flushed at once, until killed.

Usage: notify-listener.py PATH LOG
"""
import os, socket, sys, time

def main():
    path, log = sys.argv[1], sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    with open(log, "a", buffering=1) as out:
        while True:
            datagram = listener.recv(65536)
            now = time.monotonic()
            for line in datagram.decode("utf-8", "replace").splitlines():
                out.write(f"{now:.6f} {line}\n")

if __name__ == "__main__":
    main()
