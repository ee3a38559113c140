"""The red-team findings on the Python API, one test each: errors are
gdmilp.Error, files beside the output are all-or-nothing, signals stop the
command cleanly."""
import os
import pickle
import stat
import sys
import traceback

import pytest

import gdmilp
from gdmilp import _run

from conftest import FIXTURES


# ---------------------------------------------------------------- 16: Error's module


def test_error_is_shown_as_gdmilp_error():
    e = gdmilp.Error("x.onnx: bad", code=2)
    assert type(e).__module__ == "gdmilp"
    assert repr(type(e)) == "<class 'gdmilp.Error'>"
    assert traceback.format_exception_only(type(e), e)[-1] == "gdmilp.Error: x.onnx: bad\n"
    back = pickle.loads(pickle.dumps(gdmilp.Error("m", code=1, stderr="s")))
    assert (type(back), back.message, back.code, back.stderr) == (gdmilp.Error, "m", 1, "s")


# ---------------------------------------------------------------- 15: a checkout's target/release


def _fake_checkout(tmp_path):
    root = tmp_path / "repo"
    (root / "python" / "gdmilp").mkdir(parents=True)
    (root / "Cargo.toml").write_text("[package]\n")
    exe = root / "target" / "release" / "gdmilp"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return root, exe


def test_binary_found_in_a_checkouts_target_release(tmp_path, monkeypatch):
    root, exe = _fake_checkout(tmp_path)
    here = str(root / "python" / "gdmilp" / "_run.py")
    assert _run._checkout_binary(here) == str(exe)
    # No Cargo.toml two levels up: not a checkout.
    (root / "Cargo.toml").unlink()
    assert _run._checkout_binary(here) is None
    (root / "Cargo.toml").write_text("[package]\n")
    # After $GDMILP and the scripts directories, before PATH.
    monkeypatch.delenv("GDMILP", raising=False)
    monkeypatch.setattr(_run, "_scripts_dirs", lambda: [str(tmp_path / "no-scripts")])
    monkeypatch.setattr(_run, "_HERE", here)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert _run.binary() == str(exe)
    monkeypatch.setenv("GDMILP", "/elsewhere/gdmilp")
    assert _run.binary() == "/elsewhere/gdmilp"


# ---------------------------------------------------------------- 9: input problems are Error(code=2)


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda d, t: gdmilp.export(d[0], {"x": [[1.0, 2.0], [3.0]], "y": [0, 1]}, out=t / "l.mps"), "data['x']"),
        (lambda d, t: gdmilp.export(d[0], {1: [0.0]}, out=t / "l.mps"), "data"),
        (lambda d, t: gdmilp.export(d[0], 5, out=t / "l.mps"), "data"),
        (lambda d, t: gdmilp.tune(d[0], d[1], out=None), "out"),
        (lambda d, t: gdmilp.export(d[0], d[1], out=None), "out"),
        (lambda d, t: gdmilp.tune(d[0], d[1], out=t / "t.onnx", val={"x": [[1.0], [2.0, 3.0]]}), "val['x']"),
        (lambda d, t: gdmilp.inspect(None), "model"),
    ],
)
def test_input_problems_are_code_2_naming_the_argument(tmp_path, digits, call, argument):
    with pytest.raises(gdmilp.Error) as e:
        call(digits, tmp_path)
    assert e.value.code == 2
    assert str(e.value).startswith(argument), str(e.value)
    assert "\n" not in str(e.value)
    assert os.listdir(tmp_path) == []


def test_export_into_a_missing_folder_is_code_2(tmp_path, digits_arrays, digits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gdmilp.Error) as e:
        gdmilp.export(digits[0], digits_arrays, out="nodir/l.mps", quiet=True)
    assert e.value.code == 2 and str(e.value).startswith("out: "), str(e.value)
    assert "\n" not in str(e.value)
    assert os.listdir(tmp_path) == []


def test_bytes_paths_are_the_same_bytes(tmp_path, digits_arrays, digits):
    folder = os.fsencode(tmp_path)
    out = folder + b"/l\xff.mps"
    result = gdmilp.export(digits[0], digits_arrays, out=out, quiet=True, radius="0.05", points=30)
    names = sorted(os.listdir(folder))
    assert b"l\xff.mps" in names and b"l\xff.mps.gdmilp.json" in names, names
    assert [n for n in names if n.startswith(b"l\xff.mps.data-")], names
    assert all(os.path.exists(p) for p in result["arrays"])
    assert not any(n.startswith(b"b'") for n in names)
    # out missing its folder, given as bytes: an Error naming it, no "b'…'".
    with pytest.raises(gdmilp.Error) as e:
        gdmilp.eval(digits[0], folder + b"/no\xff.npz", quiet=True)
    assert e.value.code == 2 and "b'" not in str(e.value)


# ---------------------------------------------------------------- 10: option values and names


def test_numpy_bools_are_bools(tmp_path, digits):
    np = pytest.importorskip("numpy")
    out = tmp_path / "l.mps"
    gdmilp.export(digits[0], digits[1], out=out, keep_accuracy=np.True_, radius="0.05", points=30,
                  select="first", quiet=True)
    import json

    manifest = json.loads((tmp_path / "l.mps.gdmilp.json").read_text())
    assert manifest["options"]["keep_accuracy"] is True
    # np.False_ leaves the flag out, as False does.
    gdmilp.export(digits[0], digits[1], out=out, keep_accuracy=np.False_, radius="0.05", points=30,
                  select="first", quiet=True)
    manifest = json.loads((tmp_path / "l.mps.gdmilp.json").read_text())
    assert manifest["options"]["keep_accuracy"] is False


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda d, t: gdmilp.tune(d[0], d[1], out=t / "t.onnx", sweeps=True), "sweeps: --sweeps takes a value, not True"),
        (lambda d, t: gdmilp.tune(d[0], d[1], out=t / "t.onnx", keep_accuracy=3),
         "keep_accuracy: --keep-accuracy is a flag: give True or False, not 3"),
        (lambda d, t: gdmilp.eval(d[0], d[1], json=True), "json: not an option of gdmilp.eval"),
        (lambda d, t: gdmilp.export(d[0], d[1], out=t / "l.mps", json=True), "json: not an option of gdmilp.export"),
        (lambda d, t: gdmilp.tune(d[0], d[1], out=t / "t.onnx", output_file=t / "u.onnx"),
         "output_file: not an option of gdmilp.tune"),
        (lambda d, t: gdmilp.tune(d[0], d[1], out=t / "t.onnx", frobnicate=3),
         "unknown option frobnicate for tune (gdmilp tune --help lists them)"),
        (lambda d, t: gdmilp.inspect(d[0], radius="0.05"),
         "unknown option radius for inspect (gdmilp inspect --help lists them)"),
    ],
)
def test_option_mistakes_are_one_clear_line(tmp_path, digits, call, message):
    with pytest.raises(gdmilp.Error) as e:
        call(digits, tmp_path)
    assert e.value.code == 2
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value) and "tip:" not in str(e.value)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- 1 and 3: export's arrays files


def _manifest_data(milp):
    import hashlib
    import json

    m = json.loads(open(str(milp) + ".gdmilp.json", encoding="utf-8").read())
    path = m["data"]["path"]
    with open(path, "rb") as f:
        return path, m["data"]["sha256"], hashlib.sha256(f.read()).hexdigest()


def test_second_export_with_the_temp_folder_on_another_filesystem(tmp_path, monkeypatch, digits, digits_arrays):
    import tempfile

    other = "/dev/shm"
    if not os.path.isdir(other) or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no temporary folder on another filesystem than tmp_path")
    t = tempfile.mkdtemp(dir=other)
    try:
        monkeypatch.setattr(tempfile, "tempdir", t)
        milp = tmp_path / "layer.mps"
        x, y = digits_arrays["x"], digits_arrays["y"]
        gdmilp.export(digits[0], {"x": x[:50], "y": y[:50]}, out=milp, radius="0.05", quiet=True)
        r = gdmilp.export(digits[0], {"x": x[:60], "y": y[:60]}, out=milp, radius="0.05", quiet=True)
        path, recorded, actual = _manifest_data(milp)
        assert recorded == actual and r["arrays"] == [path]
        # A failing export (no labels) on the other filesystem: an Error.
        with pytest.raises(gdmilp.Error):
            gdmilp.export(digits[0], {"x": x[:60]}, out=milp, radius="0.05", quiet=True)
        assert _manifest_data(milp)[0] == path
        assert os.listdir(t) == []
    finally:
        import shutil

        shutil.rmtree(t, ignore_errors=True)


KILLED_EXPORT = """
import os, signal, sys
import numpy as np
import gdmilp
from gdmilp import _run
milp, model, data = sys.argv[1:4]
with np.load(data) as z:
    x, y = z["x"], z["y"]
def killed(*a, **k):  # the process dies after writing the arrays, before the command runs
    os.kill(os.getpid(), signal.SIGKILL)
_run.run = killed
gdmilp.export(model, {"x": x[:80], "y": y[:80]}, out=milp, radius="0.05", quiet=True)
"""


def test_export_killed_before_its_command_leaves_the_previous_export_whole(tmp_path, digits, digits_arrays):
    import subprocess

    milp = tmp_path / "layer.mps"
    x, y = digits_arrays["x"], digits_arrays["y"]
    first = gdmilp.export(digits[0], {"x": x[:40], "y": y[:40]}, out=milp, radius="0.05", quiet=True)
    before = _manifest_data(milp)
    assert before[1] == before[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    r = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(milp), str(digits[0]), str(digits[1])], env=env)
    assert r.returncode == -9
    # The old manifest names a data file that is there with its content.
    assert _manifest_data(milp) == before
    # The next export that succeeds removes what the killed one left, and a
    # temporary file of a process that died writing one.
    dead = tmp_path / ".layer.mps.data.999999999.0123abcd.tmp"
    dead.write_bytes(b"partial")
    again = gdmilp.export(digits[0], {"x": x[:50], "y": y[:50]}, out=milp, radius="0.05", quiet=True)
    left = sorted(n for n in os.listdir(tmp_path) if ".data-" in n or n.endswith(".tmp"))
    assert [os.path.join(tmp_path, n) for n in left] == again["arrays"], left
    assert not os.path.exists(first["arrays"][0])


def test_failed_export_removes_its_new_arrays_only(tmp_path, digits, digits_arrays):
    milp = tmp_path / "layer.mps"
    x, y = digits_arrays["x"], digits_arrays["y"]
    gdmilp.export(digits[0], {"x": x[:40], "y": y[:40]}, out=milp, radius="0.05", quiet=True)
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(gdmilp.Error):
        gdmilp.export(digits[0], {"x": x[:40], "y": y[:40]}, out=milp, radius="0.05", loss="mse", quiet=True)
    with pytest.raises(gdmilp.Error):
        gdmilp.export(digits[0], {"x": x[:70], "y": y[:70]}, out=milp, radius="0.05", loss="mse", quiet=True)
    assert sorted(os.listdir(tmp_path)) == listing
    # An export of a data file that succeeds: the arrays no manifest names go.
    gdmilp.export(digits[0], digits[1], out=milp, radius="0.05", points=30, quiet=True)
    assert [n for n in os.listdir(tmp_path) if ".data-" in n] == []


# ---------------------------------------------------------------- 4, 8, 11: signals


def test_a_callback_that_raises_leaves_no_lock(tmp_path, digits):
    class Stop(Exception):
        pass

    def stop(event):
        raise Stop

    with pytest.raises(Stop):
        gdmilp.tune(digits[0], digits[1], out=tmp_path / "t.onnx", radius="0.05", progress=stop)
    assert os.listdir(tmp_path) == []


def _fake(tmp_path, monkeypatch, sig):
    real = _run.binary()
    fake = tmp_path / "fake-gdmilp"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, signal, sys\n"
        f"real = {real!r}\n"
        "if '--help' in sys.argv or '--version' in sys.argv:\n"
        "    os.execv(real, [real] + sys.argv[1:])\n"
        f"signal.signal({int(sig)}, signal.SIG_DFL)\n"
        f"os.kill(os.getpid(), {int(sig)})\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("GDMILP", str(fake))


def test_a_command_killed_by_sigint_raises_keyboard_interrupt(tmp_path, monkeypatch, digits):
    import signal

    _fake(tmp_path, monkeypatch, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        gdmilp.eval(digits[0], digits[1], quiet=True)


def test_a_command_killed_by_another_signal_is_code_128_plus_n(tmp_path, monkeypatch, digits):
    import signal

    _fake(tmp_path, monkeypatch, signal.SIGTERM)
    with pytest.raises(gdmilp.Error) as e:
        gdmilp.eval(digits[0], digits[1], quiet=True)
    assert e.value.code == 128 + signal.SIGTERM
    assert str(e.value) == f"gdmilp was stopped by signal {int(signal.SIGTERM)} (SIGTERM)"


SIGTERMED = """
import os, signal, sys
import numpy as np
import gdmilp
model, data, out, mine = sys.argv[1:5]
seen, sent = [], []
if mine == "1":
    signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
with np.load(data) as z:
    arrays = {"x": z["x"], "y": z["y"]}
def term(event):
    if not sent:
        sent.append(1)
        os.kill(os.getpid(), signal.SIGTERM)
gdmilp.tune(model, arrays, out=out, radius="0.05", quiet=True, progress=term)
print(seen, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""


def test_sigterm_removes_the_temporary_folder(tmp_path, digits):
    import signal
    import subprocess

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "TMPDIR": str(tmp)}
    out = tmp_path / "t.onnx"
    r = subprocess.run([sys.executable, "-c", SIGTERMED, str(digits[0]), str(digits[1]), str(out), "0"],
                       env=env, stdout=subprocess.PIPE, text=True)
    assert r.returncode == 128 + signal.SIGTERM, r
    # (ONNX Runtime leaves a .ses file of its own in TMPDIR.)
    assert [n for n in os.listdir(tmp) if n.startswith("gdmilp-")] == [] and not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["tmp"]
    # A handler of the program's own is left to do its work: the call goes on.
    r = subprocess.run([sys.executable, "-c", SIGTERMED, str(digits[0]), str(digits[1]), str(out), "1"],
                       env=env, stdout=subprocess.PIPE, text=True)
    assert r.returncode == 0 and r.stdout == f"[{int(signal.SIGTERM)}] False\n", r
    assert out.exists() and [n for n in os.listdir(tmp) if n.startswith("gdmilp-")] == []


def test_sigterm_handler_is_put_back(digits):
    import signal

    before = signal.getsignal(signal.SIGTERM)
    gdmilp.inspect(digits[0])
    assert signal.getsignal(signal.SIGTERM) == before


# ---------------------------------------------------------------- 5: tune --keep with arrays


def test_tune_keep_writes_the_arrays_its_manifests_name(tmp_path, digits, digits_arrays):
    import json

    keep = tmp_path / "kept"
    x, y = digits_arrays["x"], digits_arrays["y"]
    gdmilp.tune(digits[0], {"x": x[:200], "y": y[:200]}, out=tmp_path / "t.onnx", radius="0.05",
                val={"x": x[200:], "y": y[200:]}, keep=keep, time_limit=30, quiet=True)
    manifest = keep / "sweep1.mps.gdmilp.json"
    m = json.loads(manifest.read_text())
    assert os.path.isfile(m["data"]["path"]) and m["data"]["path"] == str(keep / "data.npz")
    applied = gdmilp.apply(keep / "sweep1.sol", digits[0], out=tmp_path / "p.onnx", manifest=manifest,
                           quiet=True)
    assert applied["verified"] is True and "caveat" not in applied


def test_values_and_paths_that_start_with_a_dash(tmp_path, monkeypatch, digits):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copy(digits[0], tmp_path / "-m.onnx")
    assert gdmilp.inspect("-m.onnx")["op"] == "Gemm"
    # The value reaches the command as a value (clap took "-x" for a flag).
    with pytest.raises(gdmilp.Error) as e:
        gdmilp.eval("-m.onnx", digits[1], output="-x", quiet=True)
    assert e.value.code == 2 and "'-x'" in str(e.value) and "unexpected argument" not in str(e.value)


def test_progress_must_be_callable(tmp_path, digits):
    with pytest.raises(gdmilp.Error) as e:
        gdmilp.tune(digits[0], digits[1], out=tmp_path / "t.onnx", progress="json")
    assert e.value.code == 2 and str(e.value).startswith("progress: ")
    assert os.listdir(tmp_path) == []


def test_arrays_named_like_savez_parameters(tmp_path, digits, digits_arrays):
    # numpy.savez(file, allow_pickle=…, **arrays) cannot take these names.
    x, y = digits_arrays["x"], digits_arrays["y"]
    m = gdmilp.eval(digits[0], {"file": x, "allow_pickle": y}, x_key="file", y_key="allow_pickle", quiet=True)
    assert m["points"] == 300


def test_the_same_arrays_give_the_same_file(tmp_path, digits, digits_arrays):
    milp = tmp_path / "layer.mps"
    a = gdmilp.export(digits[0], digits_arrays, out=milp, radius="0.05", points=30, quiet=True)
    b = gdmilp.export(digits[0], dict(digits_arrays), out=milp, radius="0.05", points=30, quiet=True)
    assert a["arrays"] == b["arrays"]
    assert [n for n in os.listdir(tmp_path) if ".data-" in n] == [os.path.basename(a["arrays"][0])]
