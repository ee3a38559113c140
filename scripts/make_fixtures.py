#!/usr/bin/env python3
"""Generate gdmilp's test fixtures: small networks trained by gradient descent,
written as ONNX, with their data as .npz.

Run from the repository root with a Python that has torch, onnx, onnxruntime,
scikit-learn and skl2onnx (torch is a large install, so the outputs are
committed and CI does not run this):

    python scripts/make_fixtures.py            # all of them
    python scripts/make_fixtures.py bad_models # one generator

Every fixture is checked here with onnxruntime before it is written: the model
runs on its data and gives what the training code computed.
"""
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits, load_iris, load_diabetes

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
OPSET = [helper.make_opsetid("", 17)]
torch.manual_seed(0)
np.random.seed(0)


def out_dir(name):
    d = os.path.join(ROOT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def train(model, x, y, loss_fn, epochs, lr=0.05):
    """Plain full-batch gradient descent (what GDSolver starts from)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    xt = torch.tensor(x)
    yt = torch.tensor(y)
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
    return model


def arr(t):
    return t.detach().numpy().astype(np.float32)


def save(d, graph, x, y, expected, extra=None):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    check(path, x, expected)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y, **(extra or {}))


def check(path, x, expected, output=0):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[output]
    assert np.allclose(got.reshape(expected.shape), expected, atol=1e-4), path


def mlp_graph(w1, b1, w2, b2, head, name, out_act=None, x_dim=None, fixed_batch=None):
    """x → Gemm(transB=1) → Relu → head(final layer) [→ out_act] → y."""
    n_in = w1.shape[1]
    batch = fixed_batch if fixed_batch is not None else "batch"
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "B1"], ["h1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["h1"], ["h"], name="relu1"),
    ]
    inits = [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1")]
    head_nodes, head_inits, last = head(w2, b2)
    nodes += head_nodes
    inits += head_inits
    if out_act:
        nodes.append(helper.make_node(out_act, [last], ["y"], name="out_act"))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"], name="out"))
    m = w2.shape[0]
    return helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, x_dim or n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, m])],
        inits,
    )


def gemm_head(w, b):
    return (
        [helper.make_node("Gemm", ["h", "W2", "B2"], ["a"], transB=1, name="fc2")],
        [numpy_helper.from_array(w, "W2"), numpy_helper.from_array(b, "B2")],
        "a",
    )


def paper_regression_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 3)).astype(np.float32)
    y = np.stack([3 * x[:, 0] + 4, 3 * x[:, 1] + 4], axis=1).astype(np.float32)
    return x, y


class MLP(torch.nn.Module):
    def __init__(self, n_in, hidden, n_out, bias=True):
        super().__init__()
        self.fc1 = torch.nn.Linear(n_in, hidden)
        self.fc2 = torch.nn.Linear(hidden, n_out, bias=bias)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def regression():
    """Paper-style regression: X ~ U[0,1]^3, y = 3x+4 on two outputs; Gemm transB=1."""
    d = out_dir("regression")
    x, y = paper_regression_data(120, 1)
    net = train(MLP(3, 8, 2), x, y, torch.nn.functional.mse_loss, 40, lr=0.01)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "regression")
    save(d, g, x, y, arr(net(torch.tensor(x))))


def digits_data(n):
    dg = load_digits()
    x = (dg.data[:n] / 16.0).astype(np.float32)
    y = dg.target[:n].astype(np.int64)
    return x, y


def digits_softmax():
    """Classification MLP on scikit-learn digits, Gemm then Softmax."""
    d = out_dir("digits")
    x, y = digits_data(300)
    net = train(MLP(64, 16, 10), x, y, torch.nn.functional.cross_entropy, 30, lr=0.05)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "digits", out_act="Softmax")
    save(d, g, x, y, torch.softmax(net(torch.tensor(x)), 1).detach().numpy())


def matmul_add():
    """Final layer as MatMul + Add (weight N×M, bias [1, M]); classification on iris."""
    d = out_dir("matmul_add")
    ir = load_iris()
    x = ((ir.data - ir.data.mean(0)) / ir.data.std(0)).astype(np.float32)
    y = ir.target.astype(np.int64)
    net = train(MLP(4, 6, 3), x, y, torch.nn.functional.cross_entropy, 25, lr=0.05)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())

    def head(w, b):
        return (
            [
                helper.make_node("MatMul", ["h", "W2"], ["mm"], name="matmul"),
                helper.make_node("Add", ["mm", "B2"], ["a"], name="add"),
            ],
            [numpy_helper.from_array(np.ascontiguousarray(w.T), "W2"), numpy_helper.from_array(b.reshape(1, -1), "B2")],
            "a",
        )

    g = mlp_graph(w1, b1, w2, b2, head, "matmul_add")
    save(d, g, x, y, arr(net(torch.tensor(x))))


def gemm_alpha_beta():
    """Gemm with transB=0, alpha=0.5, beta=2 (weight stored N×M, scaled); regression."""
    d = out_dir("gemm_alpha_beta")
    x, y = paper_regression_data(80, 2)
    net = train(MLP(3, 6, 2), x, y, torch.nn.functional.mse_loss, 40, lr=0.01)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())

    def head(w, b):
        return (
            [helper.make_node("Gemm", ["h", "W2", "B2"], ["a"], transB=0, alpha=0.5, beta=2.0, name="fc2")],
            [numpy_helper.from_array(np.ascontiguousarray(w.T * 2.0), "W2"), numpy_helper.from_array(b / 2.0, "B2")],
            "a",
        )

    g = mlp_graph(w1, b1, w2, b2, head, "gemm_alpha_beta")
    save(d, g, x, y, arr(net(torch.tensor(x))))


def relu_output():
    """Regression whose final Gemm is followed by Relu (targets can be 0)."""
    d = out_dir("relu_output")
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(60, 3)).astype(np.float32)
    y = np.maximum(0, np.stack([x[:, 0] + x[:, 1], x[:, 1] - x[:, 2]], 1)).astype(np.float32)

    class Net(MLP):
        def forward(self, x):
            return torch.relu(super().forward(x))

    net = Net(3, 8, 2)
    train(net, x, y, torch.nn.functional.mse_loss, 40, lr=0.05)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "relu_output", out_act="Relu")
    save(d, g, x, y, arr(net(torch.tensor(x))))


def no_bias():
    """A final Gemm without bias (two inputs), as nn.Linear(bias=False) exports."""
    d = out_dir("no_bias")
    x, y = paper_regression_data(50, 4)
    net = train(MLP(3, 5, 2, bias=False), x, y, torch.nn.functional.mse_loss, 40, lr=0.01)
    w1, b1, w2 = (arr(p) for p in net.parameters())

    def head(w, _b):
        return (
            [helper.make_node("Gemm", ["h", "W2"], ["a"], transB=1, name="fc2")],
            [numpy_helper.from_array(w, "W2")],
            "a",
        )

    g = mlp_graph(w1, b1, w2, None, head, "no_bias")
    save(d, g, x, y, arr(net(torch.tensor(x))))


def convnet():
    """A small conv net on 8×8 digits: Conv → Relu → Flatten → Gemm (logits)."""
    d = out_dir("convnet")
    x, y = digits_data(200)
    x = x.reshape(-1, 1, 8, 8)

    class Conv(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 3, 3)
            self.fc = torch.nn.Linear(3 * 6 * 6, 10)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

    net = train(Conv(), x, y, torch.nn.functional.cross_entropy, 30, lr=0.05)
    cw, cb, fw, fb = (arr(p) for p in net.parameters())
    g = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "CW", "CB"], ["c"], name="conv"),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("Flatten", ["r"], ["h"], axis=1, name="flatten"),
            helper.make_node("Gemm", ["h", "FW", "FB"], ["logits"], transB=1, name="fc"),
        ],
        "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(a, n) for a, n in [(cw, "CW"), (cb, "CB"), (fw, "FW"), (fb, "FB")]],
    )
    save(d, g, x, y, arr(net(torch.tensor(x))))


def torch_export():
    """torch.onnx.export with its default settings (dynamo; weights as external data)."""
    d = out_dir("torch_export")
    x, y = digits_data(150)
    net = train(MLP(64, 12, 10), x, y, torch.nn.functional.cross_entropy, 30, lr=0.05)
    net.eval()
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(net, (torch.tensor(x[:2]),), path, dynamic_shapes=({0: torch.export.Dim("batch")},))
    assert os.path.exists(path + ".data"), "expected external data beside the model"
    check(path, x, arr(net(torch.tensor(x))))
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def fixed_batch():
    """The regression MLP with a fixed batch dimension of 16 (50 points: the
    last batch must be padded), as exporters write without dynamic axes."""
    d = out_dir("fixed_batch")
    x, y = paper_regression_data(50, 6)
    net = train(MLP(3, 6, 2), x, y, torch.nn.functional.mse_loss, 40, lr=0.01)
    w1, b1, w2, b2 = (arr(p) for p in net.parameters())
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "fixed_batch", fixed_batch=16)
    model = helper.make_model(g, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(None, {"x": x[i:i + 16]})[0] for i in range(0, 48, 16)])
    assert np.allclose(got, arr(net(torch.tensor(x[:48]))), atol=1e-4)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def torchscript_export():
    """torch.onnx.export with dynamo=False (the TorchScript-based exporter)."""
    d = out_dir("torchscript_export")
    x, y = digits_data(120)
    net = train(MLP(64, 10, 10), x, y, torch.nn.functional.cross_entropy, 30, lr=0.05)
    net.eval()
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(net, (torch.tensor(x[:2]),), path, dynamo=False,
                      input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    check(path, x, arr(net(torch.tensor(x))))
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def sklearn_models():
    """skl2onnx exports of MLPClassifier (iris) and MLPRegressor (diabetes)."""
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    d = out_dir("sk_classifier")
    ir = load_iris()
    x = ((ir.data - ir.data.mean(0)) / ir.data.std(0)).astype(np.float32)
    y = ir.target.astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=60, random_state=0).fit(x, y)
    onx = to_onnx(clf, x[:1], options={"zipmap": False})
    path = os.path.join(d, "model.onnx")
    onnx.save(onx, path)
    check(path, x, clf.predict_proba(x), output=1)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)

    d = out_dir("sk_regressor")
    db = load_diabetes()
    x = ((db.data - db.data.mean(0)) / db.data.std(0))[:150].astype(np.float32)
    y = ((db.target - db.target.mean()) / db.target.std())[:150].astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=80, random_state=0).fit(x, y)
    onx = to_onnx(reg, x[:1])
    path = os.path.join(d, "model.onnx")
    onnx.save(onx, path)
    check(path, x, reg.predict(x).reshape(-1, 1))
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def sk_zipmap():
    """skl2onnx's default export of MLPClassifier: probabilities leave through
    a ZipMap (a sequence of maps), which gdmilp follows back to its tensor."""
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier

    d = out_dir("sk_zipmap")
    ir = load_iris()
    x = ((ir.data - ir.data.mean(0)) / ir.data.std(0)).astype(np.float32)
    y = ir.target.astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=400, random_state=1).fit(x, y)
    onx = to_onnx(clf, x[:1])
    assert onx.graph.output[1].type.WhichOneof("value") == "sequence_type", "expected a ZipMap output"
    path = os.path.join(d, "model.onnx")
    onnx.save(onx, path)
    check(path, x, clf.predict(x), output=0)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def tiny():
    """Two hand-written 2-feature problems for the golden files: every number
    in their MPS/LP can be checked by hand."""
    d = out_dir("tiny_regression")
    w1 = np.eye(2, dtype=np.float32)
    b1 = np.zeros(2, dtype=np.float32)
    w2 = np.array([[0.5, -0.25]], dtype=np.float32)
    b2 = np.array([0.125], dtype=np.float32)
    x = np.array([[1, 2], [2, 0], [0, 4]], dtype=np.float32)
    y = np.array([1, 0.5, -1], dtype=np.float32)
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "tiny_regression")
    save(d, g, x, y, (np.maximum(x, 0) @ w2.T + b2))

    d = out_dir("tiny_classification")
    w2 = np.array([[1, 0], [0, 1], [0.5, 0.5]], dtype=np.float32)
    b2 = np.array([0, 0, 0.25], dtype=np.float32)
    x = np.array([[1, 0], [0, 1], [1, 1], [2, 1]], dtype=np.float32)
    y = np.array([0, 2, 2, 1], dtype=np.int64)
    g = mlp_graph(w1, b1, w2, b2, gemm_head, "tiny_classification")
    save(d, g, x, y, (np.maximum(x, 0) @ w2.T + b2))


def bad_models():
    """Models gdmilp must refuse with a clear message (fixtures/bad/)."""
    d = os.path.join(ROOT, "bad")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    b = np.zeros(4, dtype=np.float32)

    def write(name, nodes, inits, out_shape):
        g = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
            inits,
        )
        m = helper.make_model(g, opset_imports=OPSET, producer_name="gdmilp-fixtures")
        m.ir_version = 8
        onnx.checker.check_model(m)
        onnx.save(m, os.path.join(d, name + ".onnx"))

    # The output comes from Mul, not a dense layer.
    write("no_dense", [helper.make_node("Gemm", ["x", "W", "B"], ["a"], transB=1),
                       helper.make_node("Mul", ["a", "a"], ["y"])],
          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")], ["batch", 4])
    # The final layer's weight is also read by another node.
    write("shared_weight", [helper.make_node("Gemm", ["x", "W", "B"], ["a"], transB=1),
                            helper.make_node("Gemm", ["a", "W2", "B2"], ["y"], transB=1),
                            helper.make_node("ReduceSum", ["W2"], ["s"], keepdims=1),
                            helper.make_node("Identity", ["s"], ["w2_sum"])],
          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
           numpy_helper.from_array(rng.normal(size=(2, 4)).astype(np.float32), "W2"),
           numpy_helper.from_array(np.zeros(2, np.float32), "B2")], ["batch", 2])
    # The final weight held by a Constant node: read by export, not patched.
    write("constant_weight", [helper.make_node("Constant", [], ["W"], value=numpy_helper.from_array(w, "Wc")),
                              helper.make_node("Gemm", ["x", "W", "B"], ["y"], transB=1)],
          [numpy_helper.from_array(b, "B")], ["batch", 4])
    # A Sigmoid head: fine for classification, not for regression.
    write("sigmoid_head", [helper.make_node("Gemm", ["x", "W", "B"], ["a"], transB=1),
                           helper.make_node("Sigmoid", ["a"], ["y"])],
          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")], ["batch", 4])


ALL = [bad_models, tiny, regression, digits_softmax, matmul_add, gemm_alpha_beta, relu_output, no_bias, convnet, torch_export, torchscript_export, fixed_batch, sklearn_models, sk_zipmap]

if __name__ == "__main__":
    import sys

    # `make_fixtures.py NAME...` remakes only those generators.
    wanted = set(sys.argv[1:])
    for f in ALL:
        if not wanted or f.__name__ in wanted:
            f()
            print("made", f.__name__)
