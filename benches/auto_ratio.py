#!/usr/bin/env python3
"""`tune --radius auto` against what a user would run instead to choose a
regularisation by cross-validation: scikit-learn's LogisticRegressionCV with
9 values of C and 5 folds (the same amount of model selection: auto's path
has 9 radii, each scored on 5 folds) refitting the same final layer, on the
synthetic N = 512, M = 10, T = 5,000 head of benches/scale_data.py, timed one
after the other in the same run (RUNS times, alternating); prints both times,
their ratio and the test accuracies.

gdmilp runs with its default time limit (no --time-limit: 300 s for the whole
command); the report says whether any fold solve stopped before its certified
gap.

    .venv/bin/python benches/auto_ratio.py [WORK_DIR] [RUNS]
"""
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import box  # noqa: E402
from sklearn.linear_model import LogisticRegressionCV  # noqa: E402

CS = 9
FOLDS = 5


def gdmilp(model, train, test, work):
    out, rep = os.path.join(work, "auto.onnx"), os.path.join(work, "auto.json")
    t = time.perf_counter()
    r = subprocess.run([box.GDMILP, "tune", model, train, "-o", out, "--loss", "hinge",
                        "--radius", "auto", "--report", rep, "-q"], capture_output=True, text=True)
    g = time.perf_counter() - t
    if r.returncode:
        sys.exit(r.stderr)
    with open(rep) as f:
        report = json.load(f)
    cv = report.get("cross_validation") or {}
    early = sum(c.get("stopped_early", 0) for c in cv.get("radii", []))
    chosen = [c["relative"] for c in cv.get("radii", []) if c.get("chosen")]
    return g, box.accuracy(out, test), chosen, early


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else "/tmp/gdmilp-box"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    os.makedirs(work, exist_ok=True)
    model, train, test = box.heads(work, 5000)
    htr, ytr = box.penultimate(model, train)
    hte, yte = box.penultimate(model, test)
    gs, ls, ratios = [], [], []
    for _ in range(runs):
        g, acc, chosen, early = gdmilp(model, train, test, work)
        print(f"gdmilp auto {g:.1f} s, chose {chosen}, test {acc:.4f}, fold solves stopped early {early}",
              flush=True)
        t = time.perf_counter()
        lr = LogisticRegressionCV(Cs=CS, cv=FOLDS, max_iter=500).fit(htr, ytr)
        lt = time.perf_counter() - t
        print(f"LogisticRegressionCV(Cs={CS}, cv={FOLDS}) {lt:.1f} s, C {lr.C_[0]:.3g}, "
              f"test {lr.score(hte, yte):.4f}", flush=True)
        gs.append(g)
        ls.append(lt)
        ratios.append(g / lt)
    print(f"median: gdmilp {statistics.median(gs):.1f} s, LogisticRegressionCV {statistics.median(ls):.1f} s, "
          f"ratio {statistics.median(ratios):.2f}x", flush=True)


if __name__ == "__main__":
    main()
