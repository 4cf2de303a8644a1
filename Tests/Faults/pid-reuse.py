#!/usr/bin/env python3
"""Pid reuse against a real profd: a client connects, hands its socket to a child and exits; its pid is then
given to a victim process (`/proc/sys/kernel/ns_last_pid`, root), and the child asks for a session over the
inherited socket. SO_PEERCRED still names the old pid, which now is the victim's. profd must refuse: it
samples a pid only while the pidfd it took at accept says the process that connected is running.

With `--after-start` the connector starts the session itself before handing the socket on and exiting:
profd must end that session (`client-exited`) and close the socket within a few rescans, before the pid can
name anyone else.

Usage: pid-reuse.py SOCKET [--after-start]   Prints one line per check; exits 1 on a failed check, 2 if the pid could not be
reused (a busy machine taking pids first).
"""
import os, socket, struct, subprocess, sys, time

SOCKET = sys.argv[1]
AFTER_START = "--after-start" in sys.argv[2:]


def frame(kind, payload=b""):
    return b"PF" + bytes([1, kind]) + struct.pack("<I", len(payload)) + payload


def string(text):
    data = text.encode()
    return struct.pack("<H", len(data)) + data


def read_frame(sock):
    header = b""
    while len(header) < 8:
        chunk = sock.recv(8 - len(header))
        if not chunk:
            return None, b""
        header += chunk
    kind, length = header[3], struct.unpack("<I", header[4:8])[0]
    payload = b""
    while len(payload) < length:
        chunk = sock.recv(length - len(payload))
        if not chunk:
            break
        payload += chunk
    return kind, payload


go_read, go_write = os.pipe()
result_read, result_write = os.pipe()
ready_read, ready_write = os.pipe()
connector = os.fork()
if connector == 0:
    os.close(go_write); os.close(result_read); os.close(ready_read)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(SOCKET)
    sock.sendall(frame(0x01, struct.pack("<H", 1) + string("pid-reuse")))
    kind, _ = read_frame(sock)  # helloAck: profd has accepted (and taken its pidfd) by now
    if kind != 0x81:
        os.write(ready_write, b"n")
        os._exit(1)
    if AFTER_START:
        sock.sendall(frame(0x02, struct.pack("<II", 1000, 0)))
        kind, _ = read_frame(sock)
        if kind != 0x82:
            os.write(ready_write, b"n")
            os._exit(1)
    if os.fork() == 0:
        # The holder: the socket outlives the process that connected.
        os.write(ready_write, b"y")
        if AFTER_START:
            sock.settimeout(10)
            started = time.monotonic()
            try:
                kind, _ = read_frame(sock)
                outcome = "closed" if kind is None else f"type 0x{kind:02x}"
            except socket.timeout:
                outcome = "still open"
            os.write(result_write, f"{outcome} after {time.monotonic() - started:.1f} s".encode())
            os._exit(0)
        os.read(go_read, 1)
        sock.sendall(frame(0x02, struct.pack("<II", 1000, 0)))
        kind, payload = read_frame(sock)
        if kind == 0x8F:
            code = struct.unpack("<H", payload[:2])[0]
            message = payload[4:].decode(errors="replace")
            os.write(result_write, f"error {code} {message}".encode())
        elif kind is None:
            os.write(result_write, b"closed")
        else:
            os.write(result_write, f"type 0x{kind:02x}".encode())
        os._exit(0)
    os._exit(0)

os.close(go_read); os.close(result_write); os.close(ready_write)
if os.read(ready_read, 1) != b"y":
    print("FAIL: the connector got no helloAck"); sys.exit(1)
os.waitpid(connector, 0)  # reaped: its pid is free for the next fork
if AFTER_START:
    reply = os.read(result_read, 8192).decode()
    print(f"     the holder's socket after the connector exited: {reply}")
    if not reply.startswith("closed"):
        print("FAIL: profd kept serving a session whose process exited"); sys.exit(1)
    print("ok - a session whose process exited is ended and its handed-on socket closed")
    sys.exit(0)
victim = None
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(connector - 1))
    candidate = subprocess.Popen(["sleep", "60"])
    if candidate.pid == connector:
        victim = candidate
        break
    candidate.kill(); candidate.wait()
if victim is None:
    print(f"SKIP: pid {connector} was taken by another process 200 times"); sys.exit(2)
print(f"ok - the connector's pid {connector} now names a victim (sleep, attempt {attempt + 1})")
os.write(go_write, b"g")
reply = os.read(result_read, 8192).decode()
victim.kill(); victim.wait()
print(f"     profd's answer to the holder's startSession: {reply}")
if "has exited" not in reply:
    print("FAIL: profd did not refuse with 'has exited'"); sys.exit(1)
print("ok - startSession over a handed-on socket refused: the process that connected has exited")
