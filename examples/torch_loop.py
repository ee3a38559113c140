#!/usr/bin/env python3
"""The GDSolver loop with PyTorch: train by gradient descent until validation accuracy
stalls, export with torch.onnx.export (its defaults: weights in model.onnx.data), run one
`gdmilp tune` with its defaults (with --val: the box radius chosen by cross-validation on
the training points, each sweep kept only when validation accuracy does not drop; up to three
hinge sweeps), load the patched final Linear back, go on
training. torch is a large install, so CI does not run this; its output from one run is
in torch_loop.out beside it.

    pip install <the gdmilp wheel> torch onnx onnxscript scikit-learn
    python examples/torch_loop.py

The arrays go to gdmilp as they are; the patched head comes back from the tuned ONNX model,
its initializers named by `gdmilp.inspect`.
"""
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

try:
    import gdmilp
except ImportError:  # a checkout without the wheel installed: python/ beside a cargo build
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sys.path.insert(0, os.path.join(root, "python"))
    os.environ.setdefault("GDMILP", os.path.join(root, "target", "release", "gdmilp"))
    import gdmilp

torch.manual_seed(0)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 32)
        self.head = torch.nn.Linear(32, 10)

    def forward(self, x):
        return self.head(torch.relu(self.hidden(x)))


def accuracy(net, x, y):
    with torch.no_grad():
        return (net(torch.tensor(x)).argmax(1).numpy() == y).mean()


def train_until_stall(net, opt, x, y, xv, yv, patience=3, max_epochs=200):
    best, since, epochs = -1.0, 0, 0
    xt, yt = torch.tensor(x), torch.tensor(y)
    while since < patience and epochs < max_epochs:
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[i:i + 64]), yt[i:i + 64]).backward()
            opt.step()
        epochs += 1
        acc = accuracy(net, xv, yv)
        if acc > best + 1e-9:
            best, since = acc, 0
        else:
            since += 1
    return epochs


def load_head(net, path):
    """Copies the patched final Gemm (B: [10, 32] with transB=1, nn.Linear's own layout;
    C: [10]) into net.head, by the initializer names gdmilp.inspect gives."""
    layer = gdmilp.inspect(path)
    assert layer["op"] == "Gemm" and layer["trans_b"], layer["op"]
    m = onnx.load(path)  # also reads the external data file beside it
    inits = {t.name: t for t in m.graph.initializer}
    with torch.no_grad():
        net.head.weight.copy_(torch.tensor(numpy_helper.to_array(inits[layer["weight"]["name"]])))
        net.head.bias.copy_(torch.tensor(numpy_helper.to_array(inits[layer["bias"]["name"]])))


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
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, random_state=0)
    x_tr, x_va, y_tr, y_va = train_test_split(x_tr, y_tr, test_size=0.25, random_state=0)
    work = tempfile.mkdtemp(prefix="gdsolver-torch-")
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    print(f"{len(y_tr)} training, {len(y_va)} validation, {len(y_te)} test points")
    for round_ in range(1, 4):
        epochs = train_until_stall(net, opt, x_tr, y_tr, x_va, y_va)
        gd = (accuracy(net, x_va, y_va), accuracy(net, x_te, y_te))
        model = os.path.join(work, f"round{round_}.onnx")
        net.eval()
        torch.onnx.export(net, (torch.tensor(x_tr[:2]),), model, dynamic_shapes=({0: torch.export.Dim("batch")},))
        tuned = os.path.join(work, f"round{round_}.tuned.onnx")
        try:
            report = gdmilp.tune(model, {"x": x_tr, "y": y_tr}, out=tuned, val={"x": x_va, "y": y_va},
                                 loss="hinge", sweeps=3, quiet=True)
        except gdmilp.Error as e:
            sys.exit(f"gdmilp tune failed (exit {e.code}): {e}")
        load_head(net, tuned)
        net.train()
        print(f"round {round_}: {epochs} GD epochs -> val {gd[0]:.4f}, test {gd[1]:.4f}; "
              f"after gdmilp (hinge) -> val {accuracy(net, x_va, y_va):.4f}, test {accuracy(net, x_te, y_te):.4f}")
        for line in summary(report):
            print("    " + line)


if __name__ == "__main__":
    main()
