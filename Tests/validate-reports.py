#!/usr/bin/python3
"""Validates every JSON report under a profd state directory against docs/report-schema.json.

Usage: validate-reports.py STATE_DIR   (exit 0: all valid, or no reports; 1: a report is invalid)
Runs with Debian's python3, which has python3-jsonschema (`make deps` installs it).
"""
import glob, json, os, sys, threading
import jsonschema

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
schema = json.load(open(os.path.join(root, "docs", "report-schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
state = sys.argv[1]
files = [p for p in glob.glob(os.path.join(state, "sessions", "*", "**", "*.json"), recursive=True)]
failures = []


def validate():
    for path in files:
        errors = sorted(validator.iter_errors(json.load(open(path))), key=str)
        if errors:
            failures.append(f"{path}: {errors[0].message} at {list(errors[0].path)}")
            return


# Call trees nest as deep as the stacks (hundreds of frames), and jsonschema recurses a few levels per
# node: give it room, on a thread with a stack big enough for that recursion.
sys.setrecursionlimit(1_000_000)
threading.stack_size(512 * 1024 * 1024)
worker = threading.Thread(target=validate)
worker.start()
worker.join()
if failures:
    print(failures[0])
    sys.exit(1)
print(f"{len(files)} reports valid")
