"""gdmilp from Python: re-optimise the final layer of a trained network
exactly (a MILP / LP solved by the embedded HiGHS) inside a small box around
its current weights, for the GDSolver loop (gradient descent until it
stalls, then an exact step on the last layer, then gradient descent again).

Each function runs the ``gdmilp`` executable installed with this package
and returns what it reports as a dict::

    import gdmilp
    report = gdmilp.tune("model.onnx", {"x": X, "y": y}, out="tuned.onnx",
                         radius="auto", loss="hinge", time_limit=30)

Arguments:

- ``model``: a path to an ONNX file, the bytes of one, or an
  ``onnx.ModelProto`` (with its weights loaded, as ``onnx.load`` does).
- ``data``: a path to an ``.npz`` file, or a mapping of arrays such as
  ``{"x": X, "y": y}`` (sequences: their mask too, e.g. ``{"input_ids": ids,
  "attention_mask": mask, "labels": y}``), written to a temporary ``.npz``
  (by ``export``, beside its output, for ``apply`` to check against).
- ``**options``: the command's long flags with ``_`` for ``-``:
  ``time_limit=30`` is ``--time-limit 30``; ``True`` gives a bare flag
  (``keep_accuracy=True``); ``False`` / ``None`` leave the flag out; a
  mapping of arrays (``val={"x": Xv, "y": yv}``, ``protect=...``) is
  written to a temporary ``.npz`` like ``data``. ``gdmilp <command> --help``
  lists the flags.
- ``quiet=True``: nothing on stderr (progress and the solver's log pass
  through to ``sys.stderr`` otherwise).
- ``progress=callable``: called with each progress event as a dict (e.g.
  ``{"event": "step", "stage": "onnxruntime", "done": 3072, "total":
  10000, "elapsed": 1.2}``; the kinds: ``note``, ``begin``, ``step``,
  ``solver``).

A command that fails raises :class:`gdmilp.Error` (message: the command's
one error line; ``.code``: its exit code, 1 refused or 2 error) and writes
no output file. A model written with a caveat (exit code 3) is returned
with a ``"caveat"`` entry instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Union

from ._run import Error

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import onnx

    ModelLike = Union[str, "os.PathLike[str]", bytes, onnx.ModelProto]
else:
    ModelLike = Union[str, "os.PathLike[str]", bytes, Any]

PathLike = Union[str, "os.PathLike[str]"]
DataLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]
Progress = Callable[[Dict[str, Any]], Any]

__all__ = ["Error", "tune", "export", "solve", "apply", "eval", "inspect", "__version__"]


def __getattr__(name: str) -> Any:
    # __version__ is looked up on first use: importlib.metadata costs more
    # than the rest of the import.
    if name == "__version__":
        try:
            from importlib.metadata import version

            v = version("gdmilp")
        except Exception:
            v = _binary_version()
        globals()["__version__"] = v
        return v
    raise AttributeError(f"module 'gdmilp' has no attribute {name!r}")


def _binary_version() -> str:
    import subprocess

    from . import _run

    try:
        out = subprocess.run([_run.binary(), "--version"], stdout=subprocess.PIPE, check=True).stdout
        return out.decode().split()[-1]
    except Exception:
        return "0+unknown"


def tune(
    model: ModelLike,
    data: DataLike,
    *,
    out: PathLike,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
) -> Dict[str, Any]:
    """One GDSolver step: export the final layer's MILP, solve it with the
    embedded HiGHS and write the patched model to ``out`` (``gdmilp tune``).

    Args:
        model: ONNX path, bytes, or ``onnx.ModelProto``.
        data: training data: ``.npz`` path or ``{"x": X, "y": y}``.
        out: the tuned model to write (never the input unless it names it).
        quiet: no progress or solver log on stderr.
        progress: called with each progress event (a dict).
        **options: ``gdmilp tune`` flags, e.g. ``radius="0.05"`` (or
            ``"0.5x"``, ``"auto"``), ``loss="hinge"``, ``time_limit=30``,
            ``sweeps=3``, ``val={"x": Xv, "y": yv}`` (or a path),
            ``protect=...``, ``select="misclassified"``, ``points=300``.

    Returns:
        The JSON report (``--report``): ``train_before`` / ``train_after``
        metrics (and ``val_before`` / ``val_after`` with validation data),
        ``sweeps``, ``cross_validation`` when radii were compared, and
        ``stopped`` (why the loop ended).

    Raises:
        Error: the command failed (nothing was written).
    """
    from . import _run

    with _run.Args() as a:
        report = options.pop("report", None)
        report_path = os.fspath(report) if report is not None else a.temp("report.json")
        argv = [a.model(model), a.data(data), "-o", os.fspath(out), "--report", report_path]
        argv += a.options(options)
        code, _, caveat = _run.run(argv, command="tune", quiet=quiet, progress=progress, labels=a)
        with open(report_path, encoding="utf-8") as f:
            result = _run.parse_json(f.read(), "tune")
    return _with_caveat(result, code, caveat)


def export(
    model: ModelLike,
    data: DataLike,
    *,
    out: PathLike,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Write the final layer's MILP to ``out`` (``.mps``, ``.lp``, optionally
    ``.gz``) with its manifest and MIP start beside it (``gdmilp export``),
    for any solver to run.

    Args:
        model: ONNX path, bytes, or ``onnx.ModelProto``. Give ``apply`` the
            same model (a path is simplest: the manifest records its SHA-256).
        data: training data: ``.npz`` path or ``{"x": X, "y": y}``. Arrays
            in memory are written beside ``out`` as ``OUT.data.npz`` (and
            ``protect=`` arrays as ``OUT.protect.npz``): the manifest names
            them and ``apply`` checks the patched model on them.
        out: the MILP file to write.
        quiet: nothing on stderr.
        progress: called with each progress event (a dict).
        **options: ``gdmilp export`` flags (``radius``, ``loss``, ``select``,
            ``points``, ``protect``, ...).

    Returns:
        What ``gdmilp export --json`` prints: ``files`` (``milp``,
        ``manifest``, ``start``, ``cbc_start``), the problem's size
        (``columns``, ``binaries``, ``rows``, ``nonzeros``), presolve's
        ``points``, the ``incumbent`` and the model's metrics on the data
        (``model``). ``arrays`` lists the ``.npz`` files written for arrays
        given in memory.

    Raises:
        Error: the command failed (nothing was written).
    """
    from . import _run

    milp = os.fspath(out)
    with _run.Args(beside=milp) as a:
        json_out = _run.supports("export", "--json")
        argv = [a.model(model), a.data(data), "-o", milp, *a.options(options)]
        if json_out:
            argv.append("--json")
        code, stdout, caveat = _run.run(argv, command="export", quiet=quiet, progress=progress, labels=a)
        if json_out:
            result = _run.parse_json(stdout, "export")
        else:
            manifest = milp + ".gdmilp.json"
            with open(manifest, encoding="utf-8") as f:
                content = _run.parse_json(f.read(), "export")
            # An executable older than export --json: the files, as that
            # prints them, and the manifest itself.
            result = {
                "files": {
                    "milp": milp,
                    "manifest": manifest,
                    "start": milp + ".mst",
                    "cbc_start": milp + ".cbc.mst",
                },
                "manifest_content": content,
            }
        a.commit()
        if a.kept:
            result["arrays"] = list(a.kept)
    return _with_caveat(result, code, caveat)


def solve(
    milp: PathLike,
    *,
    out: PathLike,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Solve an exported MILP with the embedded HiGHS and write its solution
    file to ``out`` (``gdmilp solve``); the MIP start beside ``milp`` is used
    when present.

    Args:
        milp: the ``.mps`` / ``.lp`` (``.gz``) file ``export`` wrote.
        out: the solution file to write (HiGHS's format; ``apply`` reads it).
        quiet: no solver log on stderr.
        progress: called with each progress event (a dict).
        **options: ``gdmilp solve`` flags (``time_limit``, ``threads``,
            ``gap``, ``start``, ``no_start``).

    Returns:
        What ``gdmilp solve --json`` prints.

    Raises:
        Error: the command failed, or the solver found no solution (code 1).
    """
    from . import _run

    with _run.Args() as a:
        argv = [os.fspath(milp), "-o", os.fspath(out), *a.options(options), "--json"]
        code, stdout, caveat = _run.run(argv, command="solve", quiet=quiet, progress=progress, labels=a)
    return _with_caveat(_run.parse_json(stdout, "solve"), code, caveat)


def apply(
    solution: PathLike,
    model: ModelLike,
    *,
    out: PathLike,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Patch ``model`` with a solver's solution file (HiGHS, Gurobi, CPLEX,
    CBC, SCIP, GLPK), re-run it in ONNX Runtime, check it against the
    solver's objective and write it to ``out`` (``gdmilp apply``).

    Args:
        solution: the solver's solution file.
        model: the model that was exported (path, bytes or ModelProto).
        out: the patched model to write.
        quiet: nothing on stderr.
        progress: called with each progress event (a dict).
        **options: ``gdmilp apply`` flags (``manifest``, ``force``,
            ``solution_format``, ``batch_size``).

    Returns:
        What ``gdmilp apply --json`` prints (``status``, ``verified``,
        ``verification``, ``written``, ...). A model written with a caveat
        (verification skipped or not matching the solver, or forced) has a
        ``"caveat"`` entry saying which.

    Raises:
        Error: refused (code 1: no usable solution, worse than the current
            weights, a protected point lost) or failed (code 2); nothing
            was written.
    """
    from . import _run

    with _run.Args() as a:
        argv = [os.fspath(solution), a.model(model), "-o", os.fspath(out), *a.options(options), "--json"]
        code, stdout, caveat = _run.run(argv, command="apply", quiet=quiet, progress=progress, labels=a)
    return _with_caveat(_run.parse_json(stdout, "apply"), code, caveat)


def eval(  # noqa: A001 - the command's name
    model: ModelLike,
    data: DataLike,
    *,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Loss and accuracy of ``model`` on ``data`` (``gdmilp eval --json``).

    Args:
        model: ONNX path, bytes, or ``onnx.ModelProto``.
        data: ``.npz`` path or ``{"x": X, "y": y}``.
        quiet: nothing on stderr.
        progress: called with each progress event (a dict).
        **options: ``gdmilp eval`` flags (``output``, ``x_key``, ``y_key``,
            ``mask_key``, ``task``, ``batch_size``).

    Returns:
        The metrics ``gdmilp eval --json`` prints.

    Raises:
        Error: the command failed.
    """
    from . import _run

    with _run.Args() as a:
        argv = [a.model(model), a.data(data), *a.options(options), "--json"]
        code, stdout, caveat = _run.run(argv, command="eval", quiet=quiet, progress=progress, labels=a)
    return _with_caveat(_run.parse_json(stdout, "eval"), code, caveat)


def inspect(model: ModelLike, *, quiet: bool = False, **options: Any) -> Dict[str, Any]:
    """The final dense layer gdmilp would re-optimise (``gdmilp inspect
    --json``): its op, weight and bias initializer names, inputs, outputs,
    the activation after it and the penultimate tensor.

    Args:
        model: ONNX path, bytes, or ``onnx.ModelProto``.
        quiet: nothing on stderr.
        **options: ``gdmilp inspect`` flags (``output``).

    Returns:
        The layer as ``gdmilp inspect --json`` prints it.

    Raises:
        Error: no final dense layer, or the model cannot be read.
    """
    from . import _run

    with _run.Args() as a:
        argv = [a.model(model), *a.options(options), "--json"]
        code, stdout, caveat = _run.run(argv, command="inspect", quiet=quiet, labels=a)
    return _with_caveat(_run.parse_json(stdout, "inspect"), code, caveat)


def _with_caveat(result: Dict[str, Any], code: int, caveat: Optional[str]) -> Dict[str, Any]:
    """Exit 3 (written with a caveat): the dict has a ``caveat`` line (the
    command's JSON names it, else its last ``gdmilp:`` line); otherwise none."""
    given = result.pop("caveat", None)
    if code == 3:
        result["caveat"] = given or caveat or "written with a caveat (exit 3)"
    return result
