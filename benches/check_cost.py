#!/usr/bin/env python3
"""What tune's check costs: `gdmilp tune` with no `--radius` (the box 0.5x,
cross-validated on 5 folds before the sweep) against `--radius 0.5x` (the
same box swept as given, what a user who skips the check runs), on the
cases of benches/box.py, timed in turn (A B A B …) in the same run; prints
the median seconds of each, their ratio (the median of the pair-by-pair
ratios) and what each did. On the N = 512 head it also times, in the same
turns, what a user would run instead of any final-layer sweep: scikit-learn's
LogisticRegression (C = 0.001, the C cross-validation picks there) on the
penultimate features (extracted once, untimed: a head start for it).

    .venv/bin/python benches/check_cost.py [--runs 3] [--work DIR]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import box  # noqa: E402

CASES = [("digits", "zero-one"), ("digits", "hinge"), ("heads5k", "hinge"), ("orientation", "hinge")]


def timed(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    stopped = [l for l in r.stdout.splitlines() if l.startswith("stopped")]
    swept = bool(stopped) and stopped[0].split(None, 1)[1].startswith("ran ")
    return time.perf_counter() - t, "swept" if swept else "model kept"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/gdmilp-box")
    a = ap.parse_args()
    makers = {"digits": lambda: box.digits(a.work), "heads5k": lambda: box.heads(a.work, 5000),
              "orientation": lambda: box.orientation(a.work)}
    print("| case | loss | checked (default), s | `--radius 0.5x`, s | ratio | checked: | given: |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    lr_line = ""
    for name, loss in CASES:
        model, train, _ = makers[name]()
        base = [box.GDMILP, "tune", model, train, "--loss", loss, "--time-limit", "60", "-q"]
        features = box.penultimate(model, train) if name == "heads5k" else None
        checked, given, ratios, lr = [], [], [], []
        for i in range(a.runs):
            c, said_c = timed(base + ["-o", os.path.join(a.work, "check-c.onnx")])
            g, said_g = timed(base + ["-o", os.path.join(a.work, "check-g.onnx"), "--radius", "0.5x"])
            checked.append(c)
            given.append(g)
            ratios.append(c / g)
            if features is not None:
                lr.append(logistic_seconds(*features))
        print(f"| {name} | {loss} | {statistics.median(checked):.2f} | {statistics.median(given):.2f} | "
              f"{statistics.median(ratios):.1f}× | {said_c} | {said_g} |", flush=True)
        if lr:
            lr_line = (f"{name}: LogisticRegression (C = 0.001) on the features {statistics.median(lr):.2f} s; "
                       f"the checked tune {statistics.median(checked) / statistics.median(lr):.1f}× that")
    print("\n" + lr_line)


def logistic_seconds(h, y):
    from sklearn.linear_model import LogisticRegression

    t = time.perf_counter()
    LogisticRegression(C=0.001, max_iter=500).fit(h, y)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
