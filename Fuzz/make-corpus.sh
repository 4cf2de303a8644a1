#!/usr/bin/env bash
# Regenerates the seed corpus Fuzz/corpus/ with the real encoder (Fuzz/corpus-gen/main.swift + Sources/Protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${FUZZ_BUILD:-.build-fuzz}
mkdir -p "$out"
swiftc -Onone -module-name ProfdProtocol Sources/Protocol/*.swift Fuzz/corpus-gen/main.swift -o "$out/make-corpus"
rm -rf Fuzz/corpus && "$out/make-corpus" Fuzz/corpus
