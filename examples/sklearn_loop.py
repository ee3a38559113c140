#!/usr/bin/env python3
"""The GDSolver loop with scikit-learn: train an MLPClassifier by gradient descent
until validation accuracy stalls, export it to ONNX, run `gdmilp tune` with its defaults
(with --val: the box radius chosen by cross-validation on the training points, the sweep
kept only when validation accuracy does not drop), load the patched final layer back into
the estimator, and go on training. Copy it and put your own data and model in.

    .venv/bin/python examples/sklearn_loop.py          # from the repository root

Needs numpy, scikit-learn, skl2onnx and onnx (scripts/setup installs them) and a built
gdmilp (target/release/gdmilp, or GDMILP=/path/to/gdmilp).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

GDMILP = os.environ.get("GDMILP", os.path.join(os.path.dirname(__file__), "..", "target", "release", "gdmilp"))


def train_until_stall(clf, x, y, xv, yv, patience=3, max_epochs=60):
    """Gradient descent (partial_fit epochs) until validation accuracy stops rising."""
    best, since, epochs = -1.0, 0, 0
    while since < patience and epochs < max_epochs:
        clf.partial_fit(x, y, classes=np.arange(10))
        epochs += 1
        acc = clf.score(xv, yv)
        if acc > best + 1e-9:
            best, since = acc, 0
        else:
            since += 1
    return epochs


def final_layer_from_onnx(path):
    """The patched last MatMul weight (N×M, sklearn's layout) and bias ([1, M])."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    last = [n for n in m.graph.node if n.op_type == "MatMul"][-1]
    add = next(n for n in m.graph.node if n.op_type == "Add" and last.output[0] in n.input)
    bias = next(i for i in add.input if i in inits)
    return inits[last.input[1]], inits[bias].reshape(-1)


def main():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.4, random_state=0)
    x_tr, x_va, y_tr, y_va = train_test_split(x_tr, y_tr, test_size=0.25, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    work = tempfile.mkdtemp(prefix="gdsolver-")
    np.savez(os.path.join(work, "train.npz"), x=x_tr, y=y_tr)
    np.savez(os.path.join(work, "val.npz"), x=x_va, y=y_va)
    print(f"{len(y_tr)} training, {len(y_va)} validation, {len(y_te)} test points")
    for round_ in range(1, 4):
        epochs = train_until_stall(clf, x_tr, y_tr, x_va, y_va)
        gd_val, gd_test = clf.score(x_va, y_va), clf.score(x_te, y_te)
        model = os.path.join(work, f"round{round_}.onnx")
        onnx.save(to_onnx(clf, x_tr[:1], options={"zipmap": False}), model)
        tuned = os.path.join(work, f"round{round_}.tuned.onnx")
        r = subprocess.run(
            [GDMILP, "tune", model, os.path.join(work, "train.npz"), "-o", tuned,
             "--val", os.path.join(work, "val.npz"), "--time-limit", "20", "-q"],
            capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"gdmilp tune failed: {r.stderr.strip()}")
        w, b = final_layer_from_onnx(tuned)
        clf.coefs_[-1][...] = w
        clf.intercepts_[-1][...] = b
        print(f"round {round_}: {epochs} GD epochs -> val {gd_val:.4f}, test {gd_test:.4f}; "
              f"after gdmilp -> val {clf.score(x_va, y_va):.4f}, test {clf.score(x_te, y_te):.4f}")
        for line in r.stdout.splitlines():
            if line.startswith(("radius", "sweep", "stopped")):
                print("    " + line)


if __name__ == "__main__":
    main()
