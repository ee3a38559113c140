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
