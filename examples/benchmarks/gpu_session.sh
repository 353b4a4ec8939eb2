#!/usr/bin/env bash
# The checks run on a lent GPU machine (Python 3.12 with a CUDA build of torch; fairseq and
# the other missing packages installed from carried wheels in .whl/, the DailyDialog binaries
# carried in .gpu_data/). Part 1: GPU tests and the ND-vs-standard benchmark.
#   bash examples/benchmarks/gpu_session.sh OUT_DIR
set -uo pipefail
out=${1:?usage: gpu_session.sh OUT_DIR}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD ND_FAIRSEQ_BIN=/tmp/site/bin PATH=/tmp/site/bin:$PATH PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, fairseq; print('torch', torch.__version__, 'fairseq', fairseq.__version__)"
timeout 170 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py 2>&1 | tail -4
for arch in transformer_nd transformer_nd_small; do
  timeout 100 python3 examples/benchmarks/nd_vs_standard.py .gpu_data/bin --arch "$arch" --device cuda --fp16 \
    --max-tokens 4096 --rounds 20 2>&1 | grep -v -E "^(INFO|DEBUG)|USDT" | tee -a "$out/benchmark_gpu.txt"
done
