#!/usr/bin/env python3
"""Writes fixtures/digits/protect.npz: 1,000 scikit-learn digits the digits
fixture's model was not trained on (points 300..1299, scaled as its training
data), for `--protect`. Checks itself: the model runs on them in ONNX Runtime
and gets most of them right (the points it gets wrong are not protected)."""
import os

import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "digits")

dg = load_digits()
x = (dg.data[300:1300] / 16.0).astype(np.float32)
y = dg.target[300:1300].astype(np.int64)
path = os.path.join(ROOT, "protect.npz")
np.savez_compressed(path, x=x, y=y)

sess = ort.InferenceSession(os.path.join(ROOT, "model.onnx"))
name = sess.get_inputs()[0].name
pred = sess.run(None, {name: x})[0].argmax(1)
right = int((pred == y).sum())
back = np.load(path)
assert back["x"].shape == (1000, 64) and (back["y"] == y).all()
assert 500 < right < 1000, right
print(f"wrote {path}: 1000 points, the model gets {right} right")
