#!/usr/bin/env bash
# Peak memory of a whole export that must stream: compact classification,
# T = 10,000 points, N = 256 features, M = 10 classes, every row kept
# (radius 10), about 46 M non-zeros and a 1.5 GB MPS file written to a
# temporary folder. Prints wall time, peak RSS and the file size.
#   benches/export_memory.sh [T N M]
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-10000}; N=${2:-256}; M=${3:-10}
scripts/setup
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
.venv/bin/python -c "import onnx" 2>/dev/null || .venv/bin/pip install -q onnx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python - "$work" "$T" "$N" "$M" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
work, T, N, M = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
g = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Gemm", ["h", "W", "B"], ["y"], transB=1)],
    "big",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", N])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", M])],
    [numpy_helper.from_array(rng.normal(size=(M, N)).astype(np.float32) * 0.1, "W"),
     numpy_helper.from_array(np.zeros(M, np.float32), "B")],
)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 8
onnx.save(m, f"{work}/model.onnx")
np.savez(f"{work}/data.npz", x=rng.uniform(0.01, 1, size=(T, N)).astype(np.float32), y=rng.integers(0, M, size=T))
PY
/usr/bin/time -f "wall %e s, peak RSS %M KiB" target/release/gdmilp export "$work/model.onnx" "$work/data.npz" \
  -o "$work/big.mps" --radius 10 2>&1 | grep -E "non-zeros|wall"
echo "MPS file: $(du -h "$work/big.mps" | cut -f1)"
