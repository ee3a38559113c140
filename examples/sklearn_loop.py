#!/usr/bin/env python3
"""The GDSolver loop with scikit-learn: train an MLPClassifier by gradient descent
until validation accuracy stalls, export it to ONNX, run `gdmilp.tune` with its defaults
(with validation data: the box radius chosen by cross-validation on the training points,
the sweep kept only when validation accuracy does not drop), load the patched final layer
back into the estimator, and go on training. Copy it and put your own data and model in.

    pip install <the gdmilp wheel> scikit-learn skl2onnx onnx
    python examples/sklearn_loop.py

The arrays go to gdmilp as they are (no files of your own); the patched layer comes
back from the tuned ONNX model, its initializers named by `gdmilp.inspect`.
"""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

try:
    import gdmilp
except ImportError:  # a checkout without the wheel installed: python/ beside a cargo build
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sys.path.insert(0, os.path.join(root, "python"))
    os.environ.setdefault("GDMILP", os.path.join(root, "target", "release", "gdmilp"))
    import gdmilp


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


def final_layer(path):
    """The patched final layer's weight and bias, by the names gdmilp.inspect gives
    (skl2onnx writes MatMul + Add: the weight N×M, sklearn's own layout; the bias [1, M])."""
    layer = gdmilp.inspect(path)
    inits = {t.name: t for t in onnx.load(path).graph.initializer}
    w = numpy_helper.to_array(inits[layer["weight"]["name"]])
    b = numpy_helper.to_array(inits[layer["bias"]["name"]])
    return w, b.reshape(-1)


def summary(report):
    """A few lines from tune's report: the radii cross-validation compared, each sweep, why it stopped."""
    cv = report.get("cross_validation")
    for r in (cv or {}).get("radii", []):
        m, e = r["metrics"], r["evidence"]
        yield (f"radius {r['relative']:g}x = {r['radius']:.3g}  {cv['folds']}-fold cross-validated accuracy "
               f"{m['accuracy']:.4f} ({m['correct']} of {m['points']} correct), hinge {m['hinge']:.4f}; "
               f"fixes {e['better']} points, breaks {e['worse']} (p = {e['p']:.3g})  "
               f"({r['improved']} of {cv['folds']} folds improved, {r['seconds']:.1f} s)"
               f"{'  chosen' if r.get('chosen') else ''}")
    for s in report["sweeps"]:
        yield (f"sweep {s['sweep']}: radius {s['radius']:.3g}, {s['status']}, "
               f"{'kept' if s['kept'] else 'not kept'}, {s['seconds']:.1f} s")
    yield f"stopped    {report['stopped']}"


def main():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.4, random_state=0)
    x_tr, x_va, y_tr, y_va = train_test_split(x_tr, y_tr, test_size=0.25, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.01, random_state=0)
    work = tempfile.mkdtemp(prefix="gdsolver-")
    print(f"{len(y_tr)} training, {len(y_va)} validation, {len(y_te)} test points")
    for round_ in range(1, 4):
        epochs = train_until_stall(clf, x_tr, y_tr, x_va, y_va)
        gd_val, gd_test = clf.score(x_va, y_va), clf.score(x_te, y_te)
        model = to_onnx(clf, x_tr[:1], options={"zipmap": False})  # an onnx.ModelProto
        tuned = os.path.join(work, f"round{round_}.tuned.onnx")
        try:
            report = gdmilp.tune(model, {"x": x_tr, "y": y_tr}, out=tuned,
                                 val={"x": x_va, "y": y_va}, time_limit=20, quiet=True)
        except gdmilp.Error as e:
            sys.exit(f"gdmilp tune failed (exit {e.code}): {e}")
        w, b = final_layer(tuned)
        clf.coefs_[-1][...] = w
        clf.intercepts_[-1][...] = b
        print(f"round {round_}: {epochs} GD epochs -> val {gd_val:.4f}, test {gd_test:.4f}; "
              f"after gdmilp -> val {clf.score(x_va, y_va):.4f}, test {clf.score(x_te, y_te):.4f}")
        for line in summary(report):
            print("    " + line)


if __name__ == "__main__":
    main()
