#!/usr/bin/env python3
"""`tune --radius auto` against what a user would run instead to choose a
regularisation by cross-validation: scikit-learn's LogisticRegressionCV
(Cs 0.001–1, 3 folds) refitting the same final layer, on the synthetic
N = 512, M = 10, T = 5,000 head of benches/scale_data.py, timed one after
the other in the same run; prints both times, their ratio and the test
accuracies.

    .venv/bin/python benches/auto_ratio.py [WORK_DIR]
"""
import os, sys, time, subprocess
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import box
from sklearn.linear_model import LogisticRegressionCV
work = sys.argv[1] if len(sys.argv) > 1 else "/tmp/gdmilp-box"
os.makedirs(work, exist_ok=True)
model, train, test = box.heads(work, 5000)
t = time.time()
r = subprocess.run([box.GDMILP, "tune", model, train, "-o", os.path.join(work, "auto.onnx"), "--loss", "hinge", "--radius", "auto", "--time-limit", "60", "-q"], capture_output=True, text=True)
g = time.time() - t
print("gdmilp auto", round(g, 1), "s", r.returncode, box.accuracy(os.path.join(work, "auto.onnx"), test), flush=True)
htr, ytr = box.penultimate(model, train); hte, yte = box.penultimate(model, test)
t = time.time()
lr = LogisticRegressionCV(Cs=[0.001, 0.01, 0.1, 1.0], cv=3, max_iter=500).fit(htr, ytr)
l = time.time() - t
print("LogisticRegressionCV", round(l, 1), "s C", lr.C_[0], "test", lr.score(hte, yte), "ratio", round(g / l, 2), flush=True)
