"""Fixtures for the Python API's tests.

They test whichever ``gdmilp`` package Python imports: the installed wheel
(scripts/wheel-test), or, in a checkout with no wheel installed, python/
beside a cargo build (target/release/gdmilp, or $GDMILP).
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"

try:
    import gdmilp  # noqa: F401
except ImportError:
    if os.environ.get("GDMILP_WHEEL_TEST"):
        raise  # testing the installed wheel: no falling back to the source tree
    sys.path.insert(0, str(ROOT / "python"))
    built = ROOT / "target" / "release" / "gdmilp"
    if "GDMILP" not in os.environ and built.is_file():
        os.environ["GDMILP"] = str(built)
    import gdmilp  # noqa: F401

if os.environ.get("GDMILP_WHEEL_TEST"):
    here = Path(gdmilp.__file__).resolve()
    assert ROOT / "python" not in here.parents, f"testing {here}, not the installed wheel"
    assert "GDMILP" not in os.environ, "GDMILP is set: not testing the wheel's executable"


@pytest.fixture(scope="session")
def digits():
    """fixtures/digits: a 64-16-10 MLP (Gemm, Softmax) and 300 points."""
    d = FIXTURES / "digits"
    return d / "model.onnx", d / "data.npz"


@pytest.fixture(scope="session")
def digits_arrays(digits):
    import numpy as np

    with np.load(digits[1]) as z:
        return {"x": z["x"], "y": z["y"]}
