#!/usr/bin/env python3
"""Synthetic network heads at the size real networks have, for benches/scale.py.

A head is one ONNX `Gemm` (transB=1, like PyTorch's nn.Linear) that reads N = 512
non-negative, ReLU-like penultimate features (the model's input) and gives M outputs.

Features: h = ReLU(z P + c), z a 32-dimensional latent point, P (32 × 512) and c
random. Classification: z is drawn around one of M class means (a Gaussian
mixture) and 20 % of the labels are redrawn at random, so a linear classifier tops
out around 80 % on held-out data. The current weights come from a short
mini-batch SGD fit of softmax regression that stops at the first check where the
training accuracy reaches 78 % (checked after every step of 64 points, at most
30 epochs): a few epochs at T = 200, a small fraction of one at T = 60,000, where
the accuracy lands within a point or so of 78 % (about.json records where it
stopped).
The heads of pretrained image classifiers (N = 2,048, M = 1,000, case `xl`) use the same
world with N = 2,048, no label noise (like issue #21's head, where LogisticRegression
reaches 97 % on held-out points in 17 iterations) and a cheaper stop: the accuracy is
checked every 16 steps on the first 5,000 training points, and the fit stops at 67 % (a
1,000-class head that stalled early; about.json records where it stopped).
Regression: M = 10 targets, a random linear function of the features plus noise;
the current weights are 2 epochs of mini-batch SGD on the squared error.

Everything is drawn from numpy generators with fixed seeds: the same task and M
give the same world (means, projection, true targets) for every T, and the same
(task, M, T) gives the same files, byte for byte on one machine.

    .venv/bin/python benches/scale_data.py cls 10 1000 /tmp/head   # task M T folder
    .venv/bin/python benches/scale_data.py cls 1000 10000 /tmp/xl 2048   # … and N

writes FOLDER/model.onnx, FOLDER/train.npz (x float32 T × 512, y int64 labels or
float32 T × M targets) and FOLDER/test.npz (10,000 points from the same world),
and FOLDER/about.json (the parameters and the fit's numbers). The model is checked
with onnxruntime against numpy on the training data before anything is written.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

N = 512
LATENT = 32
# The large heads (N > 512): where the fit stops and how often it looks.
LARGE_TARGET_ACCURACY = 0.67
LARGE_CHECK_EVERY = 16
LARGE_CHECK_POINTS = 5_000
LARGE_LABEL_NOISE = 0.0
TEST_POINTS = 10_000
LABEL_NOISE = 0.2
TARGET_ACCURACY = 0.78
BATCH = 64
# Bump when anything above or below changes what is written: cached data with
# another version is regenerated.
VERSION = 1


def world(task, m, n=N, seed=20251126):
    """What does not depend on T: class means or true targets, and the features' map."""
    key = [seed, m, 0 if task == "cls" else 1] + ([] if n == N else [n])
    g = np.random.default_rng(key)
    proj = g.normal(size=(LATENT, n)) / np.sqrt(LATENT)
    shift = g.normal(size=n) * 0.5
    w = {"proj": proj, "shift": shift}
    if task == "cls":
        # Wider spread for more classes keeps the classes about as separable.
        sep = 1.2 * np.sqrt(np.log(m) / np.log(10))
        w["means"] = g.normal(size=(m, LATENT)) * sep
    else:
        w["coef"] = g.normal(size=(n, m)) / np.sqrt(n)
        w["intercept"] = g.normal(size=m)
    return w


def draw(task, w, t, seed):
    """t points: features (float32) and labels (int64) or targets (float32)."""
    g = np.random.default_rng(seed)
    if task == "cls":
        m = len(w["means"])
        labels = g.integers(0, m, t)
        z = w["means"][labels] + g.normal(size=(t, LATENT))
    else:
        z = g.normal(size=(t, LATENT))
    h = np.maximum(z @ w["proj"] + w["shift"], 0.0).astype(np.float32)
    if task == "cls":
        noise = LABEL_NOISE if h.shape[1] == N else LARGE_LABEL_NOISE
        flip = g.random(t) < noise
        y = np.where(flip, g.integers(0, m, t), labels).astype(np.int64)
    else:
        signal = h.astype(np.float64) @ w["coef"] + w["intercept"]
        noise = g.normal(size=signal.shape) * 0.5 * signal.std(axis=0)
        y = (signal + noise).astype(np.float32)
    return h, y


def accuracy(x, y, wt, b):
    return float(np.mean(np.argmax(x @ wt.T + b, axis=1) == y))


def fit_softmax(x, y, m, seed):
    """Mini-batch SGD on the cross-entropy, from nn.Linear's initialisation,
    stopping at the first step after which the training accuracy is ≥ TARGET_ACCURACY
    (N = 512), or at the first check (every LARGE_CHECK_EVERY steps, on the first
    LARGE_CHECK_POINTS points) where it is ≥ LARGE_TARGET_ACCURACY (larger N)."""
    n = x.shape[1]
    if n != N:
        return fit_softmax_large(x, y, m, seed)
    g = np.random.default_rng(seed)
    bound = 1 / np.sqrt(N)
    wt = g.uniform(-bound, bound, size=(m, N))
    b = g.uniform(-bound, bound, size=m)
    x64 = x.astype(np.float64)
    t = len(y)
    lr, steps, epochs = 0.01, 0, 0
    for epochs in range(1, 31):
        order = g.permutation(t)
        for start in range(0, t, BATCH):
            idx = order[start:start + BATCH]
            logits = x64[idx] @ wt.T + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            wt -= lr * (p.T @ x64[idx]) / len(idx)
            b -= lr * p.mean(axis=0)
            steps += 1
            if accuracy(x64, y, wt, b) >= TARGET_ACCURACY:
                return wt, b, {"epochs": round(steps * BATCH / t, 3), "steps": steps}
    return wt, b, {"epochs": epochs, "steps": steps}


def fit_softmax_large(x, y, m, seed):
    """fit_softmax for large heads, in float32 (each check reads T × N × M)."""
    g = np.random.default_rng(seed)
    n = x.shape[1]
    bound = 1 / np.sqrt(n)
    wt = g.uniform(-bound, bound, size=(m, n)).astype(np.float32)
    b = g.uniform(-bound, bound, size=m).astype(np.float32)
    t = len(y)
    xc, yc = x[:LARGE_CHECK_POINTS], y[:LARGE_CHECK_POINTS]
    lr, steps, epochs = np.float32(0.01), 0, 0
    for epochs in range(1, 31):
        order = g.permutation(t)
        for start in range(0, t, BATCH):
            idx = order[start:start + BATCH]
            logits = x[idx] @ wt.T + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            wt -= lr * (p.T @ x[idx]) / len(idx)
            b -= lr * p.mean(axis=0)
            steps += 1
            if steps % LARGE_CHECK_EVERY == 0 and \
                    accuracy(xc, yc, wt, b) >= LARGE_TARGET_ACCURACY:
                return (wt.astype(np.float64), b.astype(np.float64),
                        {"epochs": round(steps * BATCH / t, 3), "steps": steps})
    return wt.astype(np.float64), b.astype(np.float64), {"epochs": epochs, "steps": steps}


def fit_linear(x, y, seed, epochs=2):
    """Mini-batch SGD on the squared error, from nn.Linear's initialisation."""
    g = np.random.default_rng(seed)
    bound = 1 / np.sqrt(N)
    m = y.shape[1]
    wt = g.uniform(-bound, bound, size=(m, N))
    b = g.uniform(-bound, bound, size=m)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    # Stable for these features: the step times the largest curvature stays below 2.
    lr = 0.5 / float(np.mean(np.sum(x64 * x64, axis=1)))
    for _ in range(epochs):
        order = g.permutation(len(y))
        for start in range(0, len(y), BATCH):
            idx = order[start:start + BATCH]
            r = x64[idx] @ wt.T + b - y64[idx]
            wt -= lr * 2 * (r.T @ x64[idx]) / len(idx)
            b -= lr * 2 * r.mean(axis=0)
    return wt, b, {"epochs": epochs}


def head_model(wt, b):
    """One Gemm, transB=1: logits = features · Bᵀ + C."""
    m, n = wt.shape
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["features", "B", "C"], ["out"], transB=1)],
        "head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", n])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", m])],
        [numpy_helper.from_array(wt.astype(np.float32), "B"),
         numpy_helper.from_array(b.astype(np.float32), "C")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="gdmilp-benches-scale")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def check(model, x):
    """ONNX Runtime gives what numpy computes from the stored weights."""
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": x})[0]
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    want = x.astype(np.float64) @ inits["B"].T.astype(np.float64) + inits["C"]
    scale = np.abs(want).max()
    err = np.abs(got - want).max()
    assert err <= 1e-5 * max(scale, 1.0), f"onnxruntime differs from numpy by {err}"


def make(task, m, t, folder, n=N):
    """Writes the head (task 'cls' or 'reg', M outputs, T training points, N
    features) to folder."""
    if task not in ("cls", "reg"):
        raise ValueError(f"task must be cls or reg, not {task!r}")
    w = world(task, m, n)
    x, y = draw(task, w, t, seed=[t, 1])
    xt, yt = draw(task, w, TEST_POINTS, seed=[t, 2])
    if task == "cls":
        wt, b, fit = fit_softmax(x, y, m, seed=[t, 3])
        b32, wt32 = b.astype(np.float32), wt.astype(np.float32)
        fit["train_accuracy"] = accuracy(x, y, wt32, b32)
        fit["test_accuracy"] = accuracy(xt, yt, wt32, b32)
    else:
        wt, b, fit = fit_linear(x, y, seed=[t, 3])
        for name, (xs, ys) in (("train", (x, y)), ("test", (xt, yt))):
            r = xs.astype(np.float64) @ wt.astype(np.float32).T + b.astype(np.float32) - ys
            fit[f"{name}_mse"] = float(np.mean(r * r))
    model = head_model(wt, b)
    check(model, x)
    os.makedirs(folder, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    np.savez(os.path.join(folder, "train.npz"), x=x, y=y)
    np.savez(os.path.join(folder, "test.npz"), x=xt, y=yt)
    about = {"version": VERSION, "task": task, "M": m, "N": n, "T": t,
             "test_points": TEST_POINTS, "fit": fit}
    with open(os.path.join(folder, "about.json"), "w") as f:
        json.dump(about, f, indent=1)
    return about


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit("usage: scale_data.py cls|reg M T FOLDER [N]")
    n = int(argv[4]) if len(argv) == 5 else N
    about = make(argv[0], int(argv[1]), int(argv[2]), argv[3], n)
    print(json.dumps(about))


if __name__ == "__main__":
    main(sys.argv[1:])
