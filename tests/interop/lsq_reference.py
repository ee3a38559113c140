#!/usr/bin/env python3
"""Independent reference for the mse loss: the box-constrained least-squares
optimum of a model's final Gemm layer, computed without gdmilp (ONNX Runtime
for the features, SciPy's bounded least squares for the weights).

usage: lsq_reference.py MODEL.onnx DATA.npz RADIUS [BIAS_RADIUS] [--against PATCHED.onnx]
Prints JSON: {"loss": Σ (a − y)² at the optimum, "loss_now": at the current
weights, "w": [[...]], "b": [...]} (W as M × N). With --against, also the
patched model's "loss_patched" and "distance" = Σ (a_patched − a_optimum)²:
least squares is strongly convex in the activations, so any box-feasible
weights have distance ≤ loss_patched − loss.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from scipy.optimize import lsq_linear


def last_gemm(model):
    gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
    if not gemms:
        sys.exit("no Gemm node")
    node = gemms[-1]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        sys.exit("this reference handles Gemm with transA=0, alpha=beta=1 only")
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w = init[node.input[1]].astype(np.float64)
    if not attrs.get("transB", 0):
        w = w.T
    b = init[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros(w.shape[0])
    return node, w, np.broadcast_to(b, (w.shape[0],)).copy()


def features(model, node, x):
    model.graph.output.append(
        onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT, None)
    )
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return s.run([node.input[0]], {name: x.astype(np.float32)})[0].astype(np.float64)


def main():
    args = sys.argv[1:]
    against = None
    if "--against" in args:
        k = args.index("--against")
        against = args[k + 1]
        del args[k : k + 2]
    model = onnx.load(args[0])
    data = np.load(args[1])
    radius = float(args[2])
    bias_radius = float(args[3]) if len(args) > 3 else radius
    node, w, b = last_gemm(model)
    h = features(model, node, data["x"])
    y = data["y"].astype(np.float64).reshape(len(h), -1)
    a = np.hstack([h, np.ones((len(h), 1))])
    loss_now = float(((a @ np.vstack([w.T, b]) - y) ** 2).sum())
    w_opt, b_opt, loss = np.zeros_like(w), np.zeros_like(b), 0.0
    for j in range(w.shape[0]):
        x0 = np.append(w[j], b[j])
        r = np.append(np.full(w.shape[1], radius), bias_radius)
        sol = lsq_linear(a, y[:, j], bounds=(x0 - r, x0 + r), method="bvls", tol=1e-12)
        w_opt[j], b_opt[j] = sol.x[:-1], sol.x[-1]
        loss += float(((a @ sol.x - y[:, j]) ** 2).sum())
    out = {"loss": loss, "loss_now": loss_now, "w": w_opt.tolist(), "b": b_opt.tolist()}
    if against:
        _, wp, bp = last_gemm(onnx.load(against))
        a_opt = a @ np.vstack([w_opt.T, b_opt])
        a_p = a @ np.vstack([wp.T, bp])
        out["loss_patched"] = float(((a_p - y) ** 2).sum())
        out["distance"] = float(((a_p - a_opt) ** 2).sum())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
