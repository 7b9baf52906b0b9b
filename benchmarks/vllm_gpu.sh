#!/usr/bin/env bash
# The GPU measurement of issue 10, as one prepared command for a lent GPU machine (the `device` tool runs it
# in the repository root; results go to $OUT):
#   bash benchmarks/vllm_gpu.sh
# A randomly initialised Qwen2-0.5B-shaped checkpoint built from a config (no download), 2,000 prompts,
# ignore_eos, 512 new tokens each: harness eval --backend vllm versus one raw LLM.generate, tokens/s of both.
# Needs a Python with vllm (and torch, transformers) already installed there: nothing can be downloaded.
set -uo pipefail
OUT="${OUT:-benchmarks/results}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
if ! "$PY" -c "import vllm" > "$OUT/vllm_import.txt" 2>&1; then
    echo "Error: vllm is not importable with $PY (see $OUT/vllm_import.txt); nothing measured." | tee -a "$OUT/vllm_import.txt"
    exit 3
fi
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HARNESS_DATA_DIR="${HARNESS_DATA_DIR:-shared/data}" \
    timeout 540 "$PY" benchmarks/vllm_throughput.py --preset gpu --out "$OUT/vllm_throughput_gpu.md" \
    > "$OUT/vllm_throughput_gpu.log" 2>&1
rc=$?
tail -n 20 "$OUT/vllm_throughput_gpu.log"
exit $rc
