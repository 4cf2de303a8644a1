#!/usr/bin/env python3
"""Asserts every session under STATE/sessions is complete, and (with --no-temporaries) that no .tmp-* is left.

Complete: session.json parses, session.txt and capture.bin exist and are not empty, and every file that
session.json lists (routes[].files, keptRequests[].files) exists; its .json files parse.
Prints "sessions N" and exits 1 with one line per problem otherwise.
"""
import json, os, sys

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    no_temporaries = "--no-temporaries" in sys.argv
    sessions = os.path.join(args[0], "sessions")
    problems, count = [], 0
    for name in sorted(os.listdir(sessions)) if os.path.isdir(sessions) else []:
        path = os.path.join(sessions, name)
        if name.startswith(".tmp-"):
            if no_temporaries:
                problems.append(f"{name}: temporary left after restart")
            continue
        if os.path.islink(path) or not os.path.isdir(path):
            problems.append(f"{name}: not a directory")
            continue
        count += 1
        try:
            with open(os.path.join(path, "session.json")) as f:
                session = json.load(f)
        except Exception as error:
            problems.append(f"{name}: session.json: {error}")
            continue
        listed = ["session.txt", "capture.bin"]
        for entry in (session.get("routes") or []) + (session.get("keptRequests") or []):
            listed += list((entry.get("files") or {}).values())
        for relative in listed:
            file = os.path.join(path, relative)
            if not os.path.isfile(file) or os.path.getsize(file) == 0:
                problems.append(f"{name}: {relative} missing or empty")
                continue
            if relative.endswith(".json"):
                try:
                    with open(file) as f:
                        json.load(f)
                except Exception as error:
                    problems.append(f"{name}: {relative}: {error}")
        for root, _, files in os.walk(path):
            for leftover in files:
                if leftover.startswith(".tmp-"):
                    problems.append(f"{name}: temporary file {leftover} inside a complete session")
    for line in problems:
        print(line)
    print(f"sessions {count}")
    sys.exit(1 if problems else 0)

main()
