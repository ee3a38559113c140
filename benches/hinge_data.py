"""Synthetic final-layer heads for `cargo bench --bench hinge` (issue #15).

    .venv/bin/python benches/hinge_data.py T M OUT.npz [--highs R ...]

Features: ReLU of a random projection (N = 512) of a Gaussian mixture in 32
dimensions with 22 % label noise; W0, b0 from three epochs of softmax-
regression SGD (78-81 % training accuracy). Also times scikit-learn's
LogisticRegression (default lbfgs, one thread) on the same features, the
yardstick, and stores its wall and CPU seconds (lr_seconds, lr_cpu). With
--highs R, HiGHS (highspy, one thread; interior point without crossover,
then PDLP) solves the hinge LP at radius R (r_b = R, delta = 1) under a 300 s
limit and prints the time and objective (a check of the optimum)."""
import json, sys, time
import numpy as np


def make(T, M, N=512, d=32, seed=0, noise=0.22, sep=1.2, epochs=3, lr=0.02):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(M, d)) * sep
    y = rng.integers(0, M, size=T)
    z = centers[y] + rng.normal(size=(T, d))
    flip = rng.random(T) < noise
    y = np.where(flip, rng.integers(0, M, size=T), y)
    proj = rng.normal(size=(d, N)) / np.sqrt(d)
    h = np.maximum(z @ proj, 0.0)
    W = np.zeros((M, N))
    b = np.zeros(M)
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(T), max(1, T // 32)):
            a = h[idx] @ W.T + b
            a -= a.max(1, keepdims=True)
            p = np.exp(a)
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(idx)), y[idx]] -= 1
            W -= lr * p.T @ h[idx] / len(idx)
            b -= lr * p.sum(0) / len(idx)
    return h, y, W, b


def logistic_seconds(h, y):
    import warnings
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wall, cpu = time.perf_counter(), time.process_time()
        LogisticRegression().fit(h, y)
        return time.perf_counter() - wall, time.process_time() - cpu


def highs(h, y, W0, b0, r, solver, limit=300.0):
    import highspy
    import scipy.sparse as sp
    T, N = h.shape
    M = W0.shape[0]
    rows, cols, vals, rhs = [], [], [], []
    start = 0
    for j in range(M):
        ts = np.nonzero(y != j)[0]
        rid = start + np.arange(len(ts))
        nz_r, nz_c = np.nonzero(h[ts])
        v = h[ts][nz_r, nz_c]
        one = np.ones(len(ts))
        rows += [rid[nz_r], rid[nz_r], rid, rid, rid]
        cols += [y[ts][nz_r] * N + nz_c, j * N + nz_c, M * N + y[ts], M * N + np.full(len(ts), j), M * N + M + ts]
        vals += [v, -v, one, -one, one]
        start += len(ts)
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(start, M * N + M + T))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = np.concatenate([np.zeros(M * N + M), np.ones(T)])
    lp.col_lower_ = np.concatenate([(W0 - r).ravel(), b0 - r, np.zeros(T)])
    lp.col_upper_ = np.concatenate([(W0 + r).ravel(), b0 + r, np.full(T, np.inf)])
    lp.row_lower_ = np.ones(start)
    lp.row_upper_ = np.full(start, np.inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    hs = highspy.Highs()
    for k, v in (("output_flag", False), ("threads", 1), ("time_limit", limit), ("solver", solver)):
        hs.setOptionValue(k, v)
    if solver == "ipm":
        hs.setOptionValue("run_crossover", "off")
    hs.passModel(lp)
    t0 = time.perf_counter()
    hs.run()
    return dict(solver=solver, r=r, seconds=round(time.perf_counter() - t0, 2),
                status=hs.modelStatusToString(hs.getModelStatus()),
                objective=hs.getInfo().objective_function_value)


if __name__ == "__main__":
    T, M, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    radii = [float(r) for r in sys.argv[sys.argv.index("--highs") + 1:]] if "--highs" in sys.argv else []
    h, y, W0, b0 = make(T, M)
    acc = float(((h @ W0.T + b0).argmax(1) == y).mean())
    wall, cpu = logistic_seconds(h, y)
    np.savez(out, h=h, y=y.astype(np.int64), w0=W0, b0=b0, lr_seconds=np.float64(wall), lr_cpu=np.float64(cpu))
    print(json.dumps(dict(T=T, M=M, accuracy=acc, lr_seconds=round(wall, 3), lr_cpu=round(cpu, 3))), flush=True)
    for r in radii:
        for solver in ("ipm", "pdlp"):
            print(json.dumps(highs(h, y, W0, b0, r, solver)), flush=True)
