#!/usr/bin/env python3
"""Samples a process once a second until it exits or this is killed: appends to OUT one line
"<CLOCK_MONOTONIC s> <VmRSS KiB> <utime+stime clock ticks> <1-minute load average>".

Usage: sample-process.py PID OUT
"""
import sys, time

def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return rss, ticks, load

def main():
    pid, out = sys.argv[1], sys.argv[2]
    with open(out, "a", buffering=1) as log:
        next_time = time.monotonic()
        while True:
            try:
                rss, ticks, load = sample(pid)
            except (OSError, StopIteration):
                return
            log.write(f"{time.monotonic():.3f} {rss} {ticks} {load}\n")
            next_time += 1
            time.sleep(max(0, next_time - time.monotonic()))

if __name__ == "__main__":
    main()
