#!/usr/bin/env python3
"""Generate the fixtures for the final-layer forms real exporters write
(issue #14): weights in Constant nodes, layout-only tails, several external
data files, Gemm transA=1, float16 (around the layer or the whole model) and
bfloat16 weights, an ArgMax-only output, a classifier with a Relu after its
final layer, a tail that mixes points, and sequence heads (a final layer over
[batch, seq, N], token classification and per-position regression, with a mask
for padding) with two tails that mix positions.

Run from the repository root with the project's venv (no torch needed, but
for the sequence tagger: below):

    .venv/bin/python scripts/make_exporter_fixtures.py          # all of them
    .venv/bin/python scripts/make_exporter_fixtures.py half_cast

The networks are trained by scikit-learn (gradient descent: Adam). Where the
real exporter installs here it writes the model (skl2onnx); the forms that
other exporters write (paddle2onnx's Constant weights, torch.onnx's external
data, `model.half()`) are built with `onnx.helper` from the same trained
weights, in the layout those exporters use, because paddle2onnx and torch are
too large to install into the project's venv for a fixture (torch's PyPI
wheels bring ~5 GB of CUDA libraries). The sequence tagger is the exception:
it is trained and exported by torch itself (torch 2.15 from PyPI, installed
in a separate venv; torch's own CPU index is not reachable from here), so that
generator needs torch and is skipped, with a line saying so, without it:

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch onnxscript onnx \
        onnxruntime==1.31.1 scikit-learn ml_dtypes
    /tmp/tv/bin/python scripts/make_exporter_fixtures.py sequence_tagger bad_sequence_tails

Every model is checked here with onnxruntime against numpy before it is
written.
"""
import os
import shutil
import sys
import warnings

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
OPSET = [helper.make_opsetid("", 17)]


def out_dir(name):
    d = os.path.join(ROOT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def check(path, x, expected, atol=1e-4):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    assert np.allclose(got.reshape(expected.shape), expected, atol=atol), path


def save(d, graph, x, y, expected, atol=1e-4, external=None):
    """Writes model.onnx (external: {tensor name: data file name}) and data.npz."""
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    # Each external tensor's bytes are appended to its file, in file order,
    # with its offset and length recorded (as torch.onnx writes them).
    offsets = {}
    for t in model.graph.initializer:
        if not external or t.name not in external:
            continue
        loc = external[t.name]
        off = offsets.get(loc, 0)
        with open(os.path.join(d, loc), "ab") as f:
            f.write(t.raw_data)
        onnx.external_data_helper.set_external_data(t, location=loc, offset=off, length=len(t.raw_data))
        t.data_location = TensorProto.EXTERNAL
        offsets[loc] = off + len(t.raw_data)
        t.ClearField("raw_data")
    onnx.save(model, path)
    check(path, x, expected, atol)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def digits(n=300):
    dg = load_digits()
    return (dg.data[:n] / 16.0).astype(np.float32), dg.target[:n].astype(np.int64)


def classifier(x, y, hidden=16, seed=0, iters=60):
    clf = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=iters, random_state=seed)
    clf.fit(x, y)
    w1, w2 = (c.astype(np.float32) for c in clf.coefs_)
    b1, b2 = (c.astype(np.float32) for c in clf.intercepts_)
    return w1, b1, w2, b2


def hidden(x, w1, b1):
    return np.maximum(x @ w1 + b1, 0).astype(np.float32)


def softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def io(n_in, m, out_type=TensorProto.FLOAT, out_shape=None):
    return (
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("y", out_type, out_shape or ["batch", m])],
    )


def first_layer(w1, b1):
    """x → MatMul → Add → Relu → h, weights as initializers."""
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["z1"], name="fc1"),
        helper.make_node("Add", ["z1", "B1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h"], name="relu1"),
    ]
    return nodes, [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "B1")]


def constant_weights():
    """paddle2onnx (older versions) style: the final MatMul's weight and the
    Add's bias come from Constant nodes (raw_data and float_data), → Softmax."""
    d = out_dir("constant_weights")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y)
    nodes, inits = first_layer(w1, b1)
    w_const = numpy_helper.from_array(w2, "fc2_w_value")  # raw_data
    b_const = helper.make_tensor("fc2_b_value", TensorProto.FLOAT, [b2.size], b2.tolist())  # float_data
    nodes += [
        helper.make_node("Constant", [], ["fc2_w"], value=w_const, name="fc2_w_const"),
        helper.make_node("Constant", [], ["fc2_b"], value=b_const, name="fc2_b_const"),
        helper.make_node("MatMul", ["h", "fc2_w"], ["z2"], name="fc2"),
        helper.make_node("Add", ["z2", "fc2_b"], ["logits"], name="fc2_bias"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1, name="softmax"),
    ]
    g = helper.make_graph(nodes, "constant_weights", *io(64, 10), inits)
    save(d, g, x, y, softmax(hidden(x, w1, b1) @ w2 + b2))


def sk_multi_regressor():
    """skl2onnx's MLPRegressor with two targets: MatMul + Add → Reshape(-1, 1)
    of the [T, 2] output (a [2T, 1] tensor)."""
    from skl2onnx import to_onnx

    d = out_dir("sk_multi_regressor")
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(150, 3)).astype(np.float32)
    y = np.stack([3 * x[:, 0] + 1, x[:, 1] - 2 * x[:, 2]], axis=1).astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0).fit(x, y)
    onx = to_onnx(reg, x[:1])
    assert onx.graph.node[-1].op_type == "Reshape", "skl2onnx no longer ends in Reshape"
    path = os.path.join(d, "model.onnx")
    onnx.save(onx, path)
    check(path, x, reg.predict(x).astype(np.float32).reshape(-1, 1))
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def external_files():
    """torch.onnx-style external data split over two files: the final Gemm's
    weight in weights.bin (with the first layer's), its bias in bias.bin."""
    d = out_dir("external_files")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=1)
    nodes, inits = first_layer(w1, b1)
    nodes.append(helper.make_node("Gemm", ["h", "fc2.weight", "fc2.bias"], ["y"], transB=1, name="fc2"))
    inits += [numpy_helper.from_array(w2.T.copy(), "fc2.weight"), numpy_helper.from_array(b2, "fc2.bias")]
    g = helper.make_graph(nodes, "external_files", *io(64, 10), inits)
    ext = {"W1": "weights.bin", "B1": "weights.bin", "fc2.weight": "weights.bin", "fc2.bias": "bias.bin"}
    save(d, g, x, y, hidden(x, w1, b1) @ w2 + b2, external=ext)


def gemm_trans_a():
    """The features enter the final Gemm transposed: Transpose → Gemm(transA=1)."""
    d = out_dir("gemm_trans_a")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=2)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Transpose", ["h"], ["h_t"], perm=[1, 0], name="to_columns"),
        helper.make_node("Gemm", ["h_t", "W2", "B2"], ["y"], transA=1, name="fc2"),
    ]
    inits += [numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")]
    g = helper.make_graph(nodes, "gemm_trans_a", *io(64, 10), inits)
    save(d, g, x, y, hidden(x, w1, b1) @ w2 + b2)


def half_cast():
    """`model.half()` on the head only: Cast to float16 → Gemm with float16
    weights → Cast back to float32 → Softmax."""
    d = out_dir("half_cast")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=3)
    w16, b16 = w2.T.astype(np.float16), b2.astype(np.float16)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Cast", ["h"], ["h16"], to=TensorProto.FLOAT16, name="to_half"),
        helper.make_node("Gemm", ["h16", "fc2.weight", "fc2.bias"], ["a16"], transB=1, name="fc2"),
        helper.make_node("Cast", ["a16"], ["a"], to=TensorProto.FLOAT, name="to_float"),
        helper.make_node("Softmax", ["a"], ["y"], axis=1, name="softmax"),
    ]
    inits += [numpy_helper.from_array(w16, "fc2.weight"), numpy_helper.from_array(b16, "fc2.bias")]
    g = helper.make_graph(nodes, "half_cast", *io(64, 10), inits)
    h16 = hidden(x, w1, b1).astype(np.float16).astype(np.float32)
    a = h16 @ w16.T.astype(np.float32) + b16.astype(np.float32)
    save(d, g, x, y, softmax(a), atol=2e-2)


def half_model():
    """`model.half()` on the whole network: float16 input, weights, output."""
    d = out_dir("half_model")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=7)
    w1, b1, w2, b2 = (v.astype(np.float16) for v in (w1, b1, w2, b2))
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Gemm", ["h", "fc2.weight", "fc2.bias"], ["a"], transB=1, name="fc2"),
        helper.make_node("Softmax", ["a"], ["y"], axis=1, name="softmax"),
    ]
    inits += [numpy_helper.from_array(w2.T.copy(), "fc2.weight"), numpy_helper.from_array(b2, "fc2.bias")]
    g = helper.make_graph(
        nodes,
        "half_model",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["batch", 10])],
        inits,
    )
    x16 = x.astype(np.float16)
    f = lambda v: v.astype(np.float32)
    h = np.maximum(f(x16) @ f(w1) + f(b1), 0)
    expected = softmax(h @ f(w2) + f(b2))
    model = helper.make_model(g, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    check(path, x16, expected, atol=2e-2)
    # The data stay float32: gdmilp feeds any float input type.
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y)


def bfloat16_weights():
    """Weights stored as bfloat16, Cast to float32 in front of the Gemm (ONNX
    Runtime's CPU has no bfloat16 Gemm): a regression head, identity output."""
    d = out_dir("bfloat16_weights")
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, size=(150, 3)).astype(np.float32)
    y = np.stack([3 * x[:, 0] + 4, 3 * x[:, 1] + 4], axis=1).astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0).fit(x, y)
    w1, w2 = (c.astype(np.float32) for c in reg.coefs_)
    b1, b2 = (c.astype(np.float32) for c in reg.intercepts_)
    wb, bb = w2.T.astype(ml_dtypes.bfloat16), b2.astype(ml_dtypes.bfloat16)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Cast", ["fc2.weight"], ["w32"], to=TensorProto.FLOAT, name="w_to_float"),
        helper.make_node("Cast", ["fc2.bias"], ["b32"], to=TensorProto.FLOAT, name="b_to_float"),
        helper.make_node("Gemm", ["h", "w32", "b32"], ["y"], transB=1, name="fc2"),
    ]
    for name, v in [("fc2.weight", wb), ("fc2.bias", bb)]:
        t = helper.make_tensor(name, TensorProto.BFLOAT16, v.shape, v.view(np.uint16).tobytes(), raw=True)
        inits.append(t)
    g = helper.make_graph(nodes, "bfloat16_weights", *io(3, 2), inits)
    a = hidden(x, w1, b1) @ wb.T.astype(np.float32) + bb.astype(np.float32)
    save(d, g, x, y, a)


def argmax_only():
    """A deployed classifier that returns labels only: Gemm → ArgMax (int64)."""
    d = out_dir("argmax_only")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=5)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Gemm", ["h", "W2", "B2"], ["logits"], name="fc2"),
        helper.make_node("ArgMax", ["logits"], ["y"], axis=1, keepdims=0, name="predict"),
    ]
    inits += [numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")]
    g = helper.make_graph(nodes, "argmax_only", *io(64, 10, TensorProto.INT64, ["batch"]), inits)
    save(d, g, x, y, np.argmax(hidden(x, w1, b1) @ w2 + b2, axis=1), atol=0)


def bad_mixing_tail():
    """fixtures/bad/mixing_tail.onnx: Gemm → Transpose → Softmax(axis=1) →
    Transpose: the Softmax runs across points, so no point's scores are a
    function of its own layer output (gdmilp must refuse it)."""
    rng = np.random.default_rng(6)
    w1, b1 = rng.normal(size=(3, 5)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    w2, b2 = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Gemm", ["h", "W2", "B2"], ["a"], name="fc2"),
        helper.make_node("Transpose", ["a"], ["a_t"], perm=[1, 0]),
        helper.make_node("Softmax", ["a_t"], ["s_t"], axis=1),
        helper.make_node("Transpose", ["s_t"], ["y"], perm=[1, 0]),
    ]
    inits += [numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")]
    g = helper.make_graph(nodes, "mixing_tail", *io(3, 4), inits)
    model = helper.make_model(g, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(ROOT, "bad", "mixing_tail.onnx")
    onnx.save(model, path)
    x = rng.uniform(size=(4, 3)).astype(np.float32)
    check(path, x, softmax((hidden(x, w1, b1) @ w2 + b2).T).T)


def relu_classifier():
    """A classifier whose final Gemm is followed by a Relu (the argmax is taken
    over max(0, a)): the bias is shifted down so that many outputs are clipped
    at 0 and ties at 0 occur, as a head trained with a ReLU output has them."""
    d = out_dir("relu_classifier")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=3)
    b2 = (b2 - 0.5).astype(np.float32)
    nodes, inits = first_layer(w1, b1)
    nodes += [
        helper.make_node("Gemm", ["h", "W2", "B2"], ["a"], name="fc2"),
        helper.make_node("Relu", ["a"], ["y"], name="relu2"),
    ]
    inits += [numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "B2")]
    g = helper.make_graph(nodes, "relu_classifier", *io(64, 10), inits)
    out = np.maximum(hidden(x, w1, b1) @ w2 + b2, 0)
    save(d, g, x, y, out)


def token_data(rng, b, s, vocab, m):
    """Padded token sequences: ids (0 is padding), a mask, labels per
    position (-100 on padding, the Hugging Face convention), a noisy
    function of the token."""
    lengths = rng.integers(3, s + 1, size=b)
    mask = (np.arange(s)[None, :] < lengths[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(1, vocab, size=(b, s)), 0).astype(np.int64)
    labels = (ids * 7 // vocab) % m
    noise = rng.uniform(size=(b, s)) < 0.25
    labels = np.where(noise, rng.integers(0, m, size=(b, s)), labels)
    labels = np.where(mask == 1, labels, -100).astype(np.int64)
    return ids, mask, labels


def sequence_tagger():
    """Token classification, exported by torch.onnx.export (its defaults:
    dynamo, weights as external data in model.onnx.data) from nn.Embedding →
    nn.Linear → ReLU → × attention mask → nn.Linear, trained by gradient
    descent (15 Adam steps on the real positions: stopped early, so that a
    sweep of the head has room); int64 input_ids and attention_mask
    [batch, seq] (both axes dynamic) → logits [batch, seq, 4]. Each
    (sequence, position) the mask keeps is a point. Needs torch (run this
    generator in a venv with torch, onnxscript, onnxruntime and
    scikit-learn); the others do not."""
    try:
        import torch
    except ImportError:
        print("skipped sequence_tagger: it needs torch (see the top of this script)")
        return False
    d = out_dir("sequence_tagger")
    rng = np.random.default_rng(14)
    vocab, emb, n, m = 60, 8, 5, 4
    ids, mask, labels = token_data(rng, 40, 9, vocab, m)
    torch.manual_seed(14)

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, emb)
            self.fc1 = torch.nn.Linear(emb, n)
            self.head = torch.nn.Linear(n, m)

        def forward(self, input_ids, attention_mask):
            h = torch.relu(self.fc1(self.embedding(input_ids)))
            return self.head(h * attention_mask.unsqueeze(-1).to(h.dtype))

    net = Tagger()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    t_ids, t_mask, t_labels = (torch.tensor(a) for a in (ids, mask, labels))
    for _ in range(15):
        opt.zero_grad()
        logits = net(t_ids, t_mask)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, m), t_labels.reshape(-1), ignore_index=-100)
        loss.backward()
        opt.step()
    net.eval()
    path = os.path.join(d, "model.onnx")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    torch.onnx.export(
        net, (t_ids[:2], t_mask[:2]), path, input_names=["input_ids", "attention_mask"],
        output_names=["logits"], dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
    )
    assert os.path.exists(path + ".data"), "expected external data beside the model"
    with torch.no_grad():
        expected = net(t_ids, t_mask).numpy()
    check_feeds(path, {"input_ids": ids, "attention_mask": mask}, expected)
    np.savez_compressed(os.path.join(d, "data.npz"), input_ids=ids, attention_mask=mask, labels=labels)


def sequence_regressor():
    """Per-position regression on float features x [batch, seq, 5]: MatMul +
    Add → Relu → Reshape to [batch·seq, 8] → Gemm(transB=1) → Reshape back to
    [batch, seq, 2] (its shape computed from the input's, as torch.onnx writes
    it); targets [batch, seq, 2] and a float mask with padding."""
    d = out_dir("sequence_regressor")
    rng = np.random.default_rng(15)
    b, s, f, n, m = 30, 7, 5, 8, 2
    x = rng.normal(size=(b, s, f)).astype(np.float32)
    lengths = rng.integers(2, s + 1, size=b)
    mask = (np.arange(s)[None, :] < lengths[:, None]).astype(np.float32)
    target = np.stack([np.sin(x[..., 0]) + x[..., 1], x[..., 2] * x[..., 3]], axis=-1)
    real = mask == 1
    reg = MLPRegressor(hidden_layer_sizes=(n,), max_iter=80, random_state=2).fit(x[real], target[real])
    w1, w2 = (c.astype(np.float32) for c in reg.coefs_)
    b1, b2 = (c.astype(np.float32) for c in reg.intercepts_)
    y = np.where(real[..., None], target, 0.0).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["z1"], name="fc1"),
        helper.make_node("Add", ["z1", "B1"], ["h1"], name="fc1_bias"),
        helper.make_node("Relu", ["h1"], ["h3"], name="relu"),
        helper.make_node("Reshape", ["h3", "flat"], ["h"], name="flatten_positions"),
        helper.make_node("Gemm", ["h", "W2", "B2"], ["a"], transB=1, name="head"),
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        helper.make_node("Slice", ["xs", "zero", "two"], ["bs"], name="batch_seq"),
        helper.make_node("Concat", ["bs", "m"], ["out_shape"], axis=0, name="out_shape"),
        helper.make_node("Reshape", ["a", "out_shape"], ["y"], name="unflatten"),
    ]
    inits = [
        numpy_helper.from_array(w1, "W1"),
        numpy_helper.from_array(b1, "B1"),
        numpy_helper.from_array(np.array([-1, n], dtype=np.int64), "flat"),
        numpy_helper.from_array(np.ascontiguousarray(w2.T), "W2"),
        numpy_helper.from_array(b2, "B2"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
        numpy_helper.from_array(np.array([m], dtype=np.int64), "m"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", f])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", m])]
    g = helper.make_graph(nodes, "sequence_regressor", inputs, outputs, inits)
    path = save_model(d, g)
    check_feeds(path, {"x": x}, hidden(x, w1, b1) @ w2 + b2)
    np.savez_compressed(os.path.join(d, "data.npz"), x=x, y=y, mask=mask)


def bad_sequence_tails():
    """fixtures/bad/seq_mean.onnx and seq_softmax.onnx (weights inline): the sequence tagger's
    head followed by a mean over the positions (one row per sequence, not per
    position) or by a Softmax over the positions (axis 1): both mix
    positions, so gdmilp must refuse them on the tagger's data."""
    src = onnx.load(os.path.join(ROOT, "sequence_tagger", "model.onnx"))
    for name, node in [
        ("seq_mean", helper.make_node("ReduceMean", ["logits", "seq_axis"], ["y"], keepdims=0)),
        ("seq_softmax", helper.make_node("Softmax", ["logits"], ["y"], axis=1)),
    ]:
        model = onnx.ModelProto()
        model.CopyFrom(src)
        model.graph.node.append(node)
        if name == "seq_mean":  # axes are an input from opset 18 (torch writes 18 or later)
            model.graph.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"))
        shape = ["batch", 4] if name == "seq_mean" else ["batch", "seq", 4]
        del model.graph.output[:]
        model.graph.output.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, shape))
        onnx.checker.check_model(model)
        onnx.save(model, os.path.join(ROOT, "bad", name + ".onnx"))


def seq_first_heads():
    """fixtures/bad/seq_first_gemm.onnx and seq_first_matmul.onnx, heads over
    sequence_regressor's x [batch, seq, 5] that run seq-first: a Transpose to
    [seq, batch, 5], then (gemm) a Reshape to [seq·batch, 5], a Gemm and a
    Reshape back, or (matmul) a MatMul + Relu and a MatMul + Add; a Transpose
    back to [batch, seq, 2]. The layer's rows are seq-major, so reading them
    batch-major pairs features with other positions' targets: gdmilp must
    refuse both, whatever the batch size."""
    rng = np.random.default_rng(16)
    f, m = 5, 2
    w = rng.normal(size=(m, f)).astype(np.float32)
    b = rng.normal(size=m).astype(np.float32)
    w1 = rng.normal(size=(f, f)).astype(np.float32)
    perm = dict(perm=[1, 0, 2])
    heads = {
        "seq_first_gemm": [
            helper.make_node("Transpose", ["x"], ["xt"], **perm),
            helper.make_node("Reshape", ["xt", "flat"], ["xf"]),
            helper.make_node("Gemm", ["xf", "W", "B"], ["af"], transB=1),
            helper.make_node("Shape", ["xt"], ["sh"]),
            helper.make_node("Slice", ["sh", "zero", "two"], ["sb"]),
            helper.make_node("Concat", ["sb", "m"], ["s2"], axis=0),
            helper.make_node("Reshape", ["af", "s2"], ["a"]),
            helper.make_node("Transpose", ["a"], ["y"], **perm),
        ],
        "seq_first_matmul": [
            helper.make_node("Transpose", ["x"], ["xt"], **perm),
            helper.make_node("MatMul", ["xt", "W1"], ["hh"]),
            helper.make_node("Relu", ["hh"], ["hr"]),
            helper.make_node("MatMul", ["hr", "WT"], ["mm"]),
            helper.make_node("Add", ["mm", "B"], ["a"]),
            helper.make_node("Transpose", ["a"], ["y"], **perm),
        ],
    }
    inits = [
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(np.ascontiguousarray(w.T), "WT"),
        numpy_helper.from_array(b, "B"),
        numpy_helper.from_array(w1, "W1"),
        numpy_helper.from_array(np.array([-1, f], dtype=np.int64), "flat"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
        numpy_helper.from_array(np.array([m], dtype=np.int64), "m"),
    ]
    x = rng.normal(size=(3, 4, f)).astype(np.float32)
    for name, nodes in heads.items():
        used = {i for n in nodes for i in n.input}
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", f])]
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", m])]
        g = helper.make_graph(nodes, name, inputs, outputs, [t for t in inits if t.name in used])
        model = helper.make_model(g, opset_imports=OPSET, producer_name="gdmilp-fixtures")
        model.ir_version = 8
        onnx.checker.check_model(model)
        path = os.path.join(ROOT, "bad", name + ".onnx")
        onnx.save(model, path)
        h = np.maximum(x @ w1, 0) if name == "seq_first_matmul" else x
        check_feeds(path, {"x": x}, h @ w.T + b)


def sentence_classifier():
    """A sentence classifier as Hugging Face exports one: int64 input_ids and
    attention_mask [batch, 8], embeddings averaged over the unmasked
    positions, then MatMul + Add to logits [batch, 3]; one label per
    sentence. The data's attention_mask feeds the model input of that name:
    the head is flat, so it is not a mask of points."""
    d = out_dir("sentence_classifier")
    rng = np.random.default_rng(17)
    b, s, vocab, e, m = 60, 8, 20, 6, 3
    ids = rng.integers(1, vocab, size=(b, s)).astype(np.int64)
    lengths = rng.integers(2, s + 1, size=b)
    mask = (np.arange(s)[None, :] < lengths[:, None]).astype(np.int64)
    ids = ids * mask
    emb = rng.normal(size=(vocab, e)).astype(np.float32)
    w = rng.normal(size=(e, m)).astype(np.float32)
    bias = rng.normal(size=m).astype(np.float32)
    mf = mask.astype(np.float32)[..., None]
    pooled = (emb[ids] * mf).sum(1) / mf.sum(1)
    logits = pooled @ w + bias
    labels = np.argmax(logits + rng.normal(scale=0.7, size=logits.shape), axis=1).astype(np.int64)
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["tok"], axis=0),
        helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mf", "last"], ["mu"]),
        helper.make_node("Mul", ["tok", "mu"], ["kept"]),
        helper.make_node("ReduceSum", ["kept", "seq_axis"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["mu", "seq_axis"], ["count"], keepdims=0),
        helper.make_node("Div", ["total", "count"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "W"], ["z"], name="classifier"),
        helper.make_node("Add", ["z", "B"], ["logits"], name="classifier_bias"),
    ]
    inits = [
        numpy_helper.from_array(emb, "emb"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"),
        numpy_helper.from_array(w, "W"),
        numpy_helper.from_array(bias, "B"),
    ]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", m])]
    g = helper.make_graph(nodes, "sentence_classifier", inputs, outputs, inits)
    path = save_model(d, g)
    check_feeds(path, {"input_ids": ids, "attention_mask": mask}, logits)
    np.savez_compressed(os.path.join(d, "data.npz"), input_ids=ids, attention_mask=mask, labels=labels)


def save_model(d, graph):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="gdmilp-fixtures")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    return path


def bfloat16_input():
    """A model whose input is bfloat16, which numpy has no type for: its data
    are saved as the bfloat16 bits in uint16 (what `x.view(torch.int16)` or
    ml_dtypes gives), and gdmilp reads them as bfloat16 for that input."""
    d = out_dir("bfloat16_input")
    x, y = digits()
    w1, b1, w2, b2 = classifier(x, y, seed=11)
    # float32 → bfloat16 bits, rounded to nearest even.
    u = x.astype(np.float32).view(np.uint32)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    xb = (bits.astype(np.uint32) << 16).view(np.float32)
    nodes, inits = first_layer(w1, b1)
    nodes[0].input[0] = "xf"
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT, name="from_bf16")] + nodes
    nodes += [
        helper.make_node("Gemm", ["h", "fc2.weight", "fc2.bias"], ["a"], transB=1, name="fc2"),
        helper.make_node("Softmax", ["a"], ["y"], axis=1, name="softmax"),
    ]
    inits += [numpy_helper.from_array(w2.T.copy(), "fc2.weight"), numpy_helper.from_array(b2, "fc2.bias")]
    g = helper.make_graph(
        nodes,
        "bfloat16_input",
        [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    path = save_model(d, g)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(bits, TensorProto.BFLOAT16)
    got = sess.run_with_ort_values(["y"], {"x": feed})[0].numpy()
    expected = softmax(np.maximum(xb @ w1 + b1, 0) @ w2 + b2)
    assert np.allclose(got, expected, atol=1e-4), path
    np.savez_compressed(os.path.join(d, "data.npz"), x=bits, y=y)


def check_feeds(path, feeds, expected, atol=1e-4):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds)[0]
    assert np.allclose(got, expected, atol=atol), path


GENERATORS = [
    constant_weights,
    sk_multi_regressor,
    external_files,
    gemm_trans_a,
    half_cast,
    half_model,
    bfloat16_input,
    bfloat16_weights,
    argmax_only,
    relu_classifier,
    bad_mixing_tail,
    sequence_tagger,
    sequence_regressor,
    bad_sequence_tails,
    seq_first_heads,
    sentence_classifier,
]

if __name__ == "__main__":
    wanted = sys.argv[1:]
    for gen in GENERATORS:
        if not wanted or gen.__name__ in wanted:
            if gen() is not False:
                print("wrote", gen.__name__)
