#!/usr/bin/env bash
# Builds Fuzz/ProtocolFuzzer.swift against Sources/Protocol with libFuzzer and ASan, by swiftc directly,
# so the core package's `swift build`/`swift test` never see it. Output: $FUZZ_BUILD (default .build-fuzz)/profd-protocol-fuzz.
# libFuzzer's runtime (libclang_rt.fuzzer) comes with the Swift toolchain; no network is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTC=${SWIFTC:-swiftc}
out=${FUZZ_BUILD:-.build-fuzz}
mkdir -p "$out"
flags=(-O -parse-as-library -sanitize=fuzzer,address -g -use-ld=lld)
# The protocol module, instrumented, as a static library + module for `import ProfdProtocol`.
"$SWIFTC" "${flags[@]}" -module-name ProfdProtocol -emit-library -static -emit-module \
  -emit-module-path "$out/ProfdProtocol.swiftmodule" -o "$out/libProfdProtocol.a" Sources/Protocol/*.swift
# The fuzz entry point; libFuzzer provides main().
"$SWIFTC" "${flags[@]}" -module-name ProtocolFuzzer -I "$out" \
  Fuzz/ProtocolFuzzer.swift "$out/libProfdProtocol.a" -o "$out/profd-protocol-fuzz"
echo "built $out/profd-protocol-fuzz"
