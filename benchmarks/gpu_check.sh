#!/usr/bin/env bash
# GPU check of the torch backend, for a machine with an NVIDIA GPU and a CUDA build of torch.
#
#   bash benchmarks/gpu_check.sh            # from the repository root; PYTHON=... to choose the interpreter
#
# 1. the CUDA cases of tests/test_torch_backend.py (float64 training = numpy engine to 1e-10 for
#    gd / noisy-gd / adam x arora / both / ema-wu / mean-field, autograd gradients, float32 and TF32
#    tolerances, kernel build = numpy builder, operator + CG): about a minute;
# 2. the CUDA rows of benchmarks/bench_torch.py at the paper's scale n = m = 10^4, d = 784
#    (GD step / two cuBLAS GEMMs, target <= 1.3; TF32; engine.run per step; H-inf build / GEMM).
# Each part has its own time limit; the whole script finishes in under 5 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

probe='import torch, numpy, scipy, sklearn, hypothesis, pytest; assert torch.cuda.is_available(), "no CUDA"'
PY=""
for cand in "${PYTHON:-}" .venv/bin/python python3 python; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || [ -x "$cand" ] || continue
    if "$cand" -c "$probe" >/dev/null 2>&1; then PY="$cand"; break; fi
    echo "gpu_check: $cand: $("$cand" -c "$probe" 2>&1 | tail -1)" >&2
done
if [ -z "$PY" ]; then
    echo "gpu_check: no Python here has a CUDA build of torch plus numpy, scipy, scikit-learn, pytest and" >&2
    echo "           hypothesis; install them (pip install torch numpy scipy scikit-learn pytest hypothesis) or" >&2
    echo "           set PYTHON=/path/to/python" >&2
    exit 2
fi
"$PY" -c 'import torch; print(f"gpu_check: {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})")'
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader

status=0
echo "== 1. CUDA tests (tests/test_torch_backend.py -k cuda)"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -o addopts="" tests/test_torch_backend.py -k cuda -rs || status=1

echo "== 2. CUDA benchmark rows (n = m = 10^4, d = 784)"
timeout 150 "$PY" benchmarks/bench_torch.py --cuda-only --n 10000 --m 10000 --d 784 --repeat 5 || status=1

echo "gpu_check: $([ $status = 0 ] && echo 'done' || echo 'a part FAILED or timed out (see above)')"
exit $status
