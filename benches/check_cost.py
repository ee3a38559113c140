#!/usr/bin/env python3
"""What tune's check costs: `gdmilp tune` with no `--radius` (the box 0.5x,
cross-validated on 5 folds before the sweep) against `--radius 0.5x` (the
same box swept as given, what a user who skips the check runs), on the
cases of benches/box.py, timed in turn (A B A B …) in the same run; prints
the median seconds of each, their ratio (the median of the pair-by-pair
ratios) and what each did.

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
    for name, loss in CASES:
        model, train, _ = makers[name]()
        base = [box.GDMILP, "tune", model, train, "--loss", loss, "--time-limit", "60", "-q"]
        checked, given, ratios = [], [], []
        for i in range(a.runs):
            c, said_c = timed(base + ["-o", os.path.join(a.work, "check-c.onnx")])
            g, said_g = timed(base + ["-o", os.path.join(a.work, "check-g.onnx"), "--radius", "0.5x"])
            checked.append(c)
            given.append(g)
            ratios.append(c / g)
        print(f"| {name} | {loss} | {statistics.median(checked):.2f} | {statistics.median(given):.2f} | "
              f"{statistics.median(ratios):.1f}× | {said_c} | {said_g} |", flush=True)


if __name__ == "__main__":
    main()
