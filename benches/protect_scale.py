#!/usr/bin/env python3
"""--protect at scale: the digits fixture's 32 misclassified points to fix, and
N protected points (default 30,000: scikit-learn digits 300..1796 the model
never saw, drawn with replacement, plus Gaussian noise of 0.05, clipped to
[0, 1]; seed 0). Runs export, the embedded solve (row generation), tune (row
generation) and apply, and prints each command's wall time, peak memory and
its protect lines. With --whole it also solves the whole exported file with
highspy (every protected row, no MIP start; 300 s limit).

    .venv/bin/python benches/protect_scale.py [--points N] [--whole]
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GDMILP = os.path.join(ROOT, "target", "release", "gdmilp")
F = os.path.join(ROOT, "fixtures", "digits")


def run(name, args):
    t = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "peak %M KB"] + args, capture_output=True, text=True)
    lines = [l for l in (r.stdout + r.stderr).splitlines() if "protect" in l or "peak" in l or "objective" in l.lower()]
    print(f"== {name}: {time.time() - t:.1f} s, exit {r.returncode}")
    for l in lines[-6:]:
        print("   " + l)


def main():
    n = int(sys.argv[sys.argv.index("--points") + 1]) if "--points" in sys.argv else 30000
    work = tempfile.mkdtemp(prefix="protect-scale-")
    dg = load_digits()
    rng = np.random.default_rng(0)
    idx = rng.integers(300, len(dg.target), n)
    x = np.clip(dg.data[idx] / 16.0 + rng.normal(0, 0.05, (n, 64)), 0, 1).astype(np.float32)
    y = dg.target[idx].astype(np.int64)
    protect = os.path.join(work, "protect.npz")
    np.savez(protect, x=x, y=y)
    model, data = os.path.join(F, "model.onnx"), os.path.join(F, "data.npz")
    # The paper's absolute box, as the README's numbers were measured.
    sel = ["--select", "misclassified", "--points", "32", "--radius", "0.05", "--protect", protect]
    mps = os.path.join(work, "layer.mps")
    run("export", [GDMILP, "export", model, data, "-o", mps] + sel)
    run("solve", [GDMILP, "solve", mps, "-o", os.path.join(work, "layer.sol"), "-q"])
    run("apply", [GDMILP, "apply", os.path.join(work, "layer.sol"), model, "-o", os.path.join(work, "a.onnx")])
    run("tune", [GDMILP, "tune", model, data, "-o", os.path.join(work, "t.onnx"), "-q"] + sel)
    if "--whole" in sys.argv:
        import highspy

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", 300.0)
        h.readModel(mps)
        t = time.time()
        h.run()
        print(f"== highspy, the whole file: {time.time() - t:.1f} s, {h.getModelStatus()}, "
              f"objective {h.getInfo().objective_function_value}")


if __name__ == "__main__":
    main()
