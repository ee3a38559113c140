"""Running the bundled ``gdmilp`` executable: where it is, how Python values
become its arguments, and how its exit code and output become a dict or an
:class:`Error`.

Nothing here is imported at ``import gdmilp`` time beyond the standard
library; numpy is imported only when arrays have to be written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import deque
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

PREFIX = "gdmilp: "


class Error(Exception):
    """A gdmilp command failed.

    ``str(err)`` is the command's one error line (without the ``gdmilp:``
    prefix); ``err.code`` is its exit code: 1 the result was refused (no
    usable solution, worse than the current weights, a protected point
    lost), 2 bad input or any other error. ``err.stderr`` holds the end of
    what the command wrote on stderr.
    """

    def __init__(self, message: str, code: int = 2, stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"gdmilp.Error({self.message!r}, code={self.code})"


# ----------------------------------------------------------------------------
# The executable and ONNX Runtime


def binary() -> str:
    """The gdmilp executable: $GDMILP, else the one installed beside this
    package's Python (the wheel puts it in the environment's scripts
    directory), else the first ``gdmilp`` on PATH."""
    env = os.environ.get("GDMILP")
    if env:
        return env
    import shutil
    import sysconfig

    exe = "gdmilp.exe" if os.name == "nt" else "gdmilp"
    dirs = [os.path.dirname(sys.executable)]
    for scheme in (None, f"{os.name}_user"):
        try:
            dirs.append(sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts"))
        except KeyError:
            pass
    for d in dirs:
        p = os.path.join(d, exe)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    found = shutil.which(exe)
    if found:
        return found
    raise Error(
        "the gdmilp executable was not found beside this Python or on PATH; "
        "reinstall the gdmilp wheel, or set GDMILP to the executable's path",
        code=2,
    )


def ort_library() -> Optional[str]:
    """libonnxruntime from the importable ``onnxruntime`` package, found
    without importing it (which would load the library into this process)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        capi = os.path.join(loc, "capi")
        try:
            names = os.listdir(capi)
        except OSError:
            continue
        libs = [
            n
            for n in names
            if n.startswith("libonnxruntime.so")
            or (n.startswith("libonnxruntime.") and n.endswith(".dylib"))
            or n == "onnxruntime.dll"
        ]
        if libs:
            # The fully versioned name (libonnxruntime.so.1.31.1) first.
            return os.path.join(capi, max(libs, key=len))
    return None


def environment() -> Dict[str, str]:
    """The child's environment: ours, plus ORT_DYLIB_PATH pointing at this
    Python's onnxruntime when it is not set already (``python3`` on PATH
    need not be this Python)."""
    env = dict(os.environ)
    if not env.get("ORT_DYLIB_PATH"):
        lib = ort_library()
        if lib:
            env["ORT_DYLIB_PATH"] = lib
    return env


_HELP: Dict[Tuple[str, ...], str] = {}


def supports(command: Optional[str], flag: str) -> bool:
    """Whether ``gdmilp [command] --help`` lists ``flag`` (asked once per
    command and process)."""
    exe = binary()
    key = (exe, command) if command else (exe,)
    if key not in _HELP:
        try:
            r = subprocess.run(
                [*key, "--help"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment(),
            )
            _HELP[key] = r.stdout.decode("utf-8", "replace")
        except OSError:
            _HELP[key] = ""
    # An option's own line ("  -q, --quiet", "      --json"), not a mention
    # of it in another option's description.
    pattern = r"^\s+(?:-\w, )?" + re.escape(flag) + r"(?:[ =\[<]|$)"
    return re.search(pattern, _HELP[key], re.M) is not None


# ----------------------------------------------------------------------------
# Python values -> arguments


class Args:
    """Turns models, data and options into command-line arguments, writing
    what is in memory to files in a temporary directory (removed by
    :meth:`close`)."""

    def __init__(self, beside: Optional[str] = None) -> None:
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        # temporary path -> what the caller gave, for error messages
        self.labels: Dict[str, str] = {}
        # Arrays that must outlive the call (export: apply reads the data
        # file the manifest names) go beside this path instead, as
        # BESIDE.<name>.npz; kept by commit(), removed by close() otherwise.
        self.beside = beside
        self.kept: List[str] = []
        self._backups: List[Tuple[str, Optional[str]]] = []

    def __enter__(self) -> "Args":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def commit(self) -> None:
        """The command succeeded: keep the arrays written beside its output."""
        for _, backup in self._backups:
            if backup is not None:
                os.remove(backup)
        self._backups = []

    def close(self) -> None:
        # Not committed: put back what was beside the output before.
        for path, backup in reversed(self._backups):
            if os.path.exists(path):
                os.remove(path)
            if backup is not None:
                os.replace(backup, path)
        self._backups = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _path(self, name: str) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="gdmilp-")
        return os.path.join(self._tmp.name, name)

    def model(self, model: Any, name: str = "model") -> str:
        """A path, bytes of an ONNX file, or an ``onnx.ModelProto``."""
        if isinstance(model, (str, os.PathLike)):
            return os.fspath(model)
        if isinstance(model, (bytes, bytearray, memoryview)):
            path = self._path(f"{name}.onnx")
            with open(path, "wb") as f:
                f.write(model)
            self.labels[path] = f"{name} (bytes in memory)"
            return path
        if hasattr(model, "SerializeToString") and hasattr(model, "graph"):
            return self._proto(model, name)
        raise TypeError(
            f"{name} must be a path, the bytes of an ONNX file or an onnx.ModelProto, "
            f"not {type(model).__name__}"
        )

    def _proto(self, model: Any, name: str) -> str:
        external = [t.name for t in model.graph.initializer if t.data_location == 1]
        if external:
            raise Error(
                f"{name}: the ModelProto's weights ({external[0]}"
                f"{', …' if len(external) > 1 else ''}) are in external data files it was "
                "loaded without; load it with onnx.load(path) (which reads them) or pass the path",
                code=2,
            )
        path = self._path(f"{name}.onnx")
        if model.ByteSize() < 2**31 - 1:
            with open(path, "wb") as f:
                f.write(model.SerializeToString())
        else:
            # Over protobuf's 2 GB: a copy with its weights in one data file
            # beside it (gdmilp reads external data); the caller's proto is
            # left as it was.
            import onnx

            copy = onnx.ModelProto()
            copy.CopyFrom(model)
            onnx.save_model(
                copy,
                path,
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=f"{name}.onnx.data",
            )
        self.labels[path] = f"{name} (ModelProto in memory)"
        return path

    def data(self, data: Any, name: str = "data") -> str:
        """A path to an .npz, or a mapping of array-likes written with
        numpy.savez."""
        if isinstance(data, (str, os.PathLike)):
            return os.fspath(data)
        if isinstance(data, Mapping):
            import numpy as np

            arrays = {}
            for k, v in data.items():
                if not isinstance(k, str):
                    raise TypeError(f"{name}: array names must be strings, not {k!r}")
                if hasattr(v, "detach"):  # a torch tensor
                    v = v.detach().cpu().numpy()
                arrays[k] = np.asarray(v)
            if self.beside is None:
                path = self._path(f"{name}.npz")
                self.labels[path] = f"{name} (arrays in memory)"
            else:
                path = f"{self.beside}.{name}.npz"
                backup = None
                if os.path.exists(path):
                    backup = self._path(f"{name}.previous.npz")
                    os.replace(path, backup)
                self._backups.append((path, backup))
                self.kept.append(path)
            np.savez(path, **arrays)
            return path
        raise TypeError(
            f"{name} must be a path to an .npz file or a mapping of arrays "
            f"(e.g. {{'x': X, 'y': y}}), not {type(data).__name__}"
        )

    def options(self, options: Mapping[str, Any]) -> List[str]:
        """``radius="auto"`` -> ``--radius auto``; True -> a bare flag;
        False / None -> left out; a list or tuple -> the flag once per
        value; a mapping (``val=``, ``protect=``) -> an .npz written for it."""
        out: List[str] = []
        for key, value in options.items():
            if value is None or value is False:
                continue
            flag = "--" + key.replace("_", "-")
            if value is True:
                out.append(flag)
                continue
            if isinstance(value, Mapping):
                value = self.data(value, key)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                out += [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]
        return out

    def temp(self, name: str) -> str:
        """A path in the temporary directory, for an output read back."""
        return self._path(name)

    def relabel(self, text: str) -> str:
        for path, label in self.labels.items():
            text = text.replace(path, label)
        return text


# ----------------------------------------------------------------------------
# Running


Progress = Callable[[Dict[str, Any]], Any]


def run(
    argv: List[str],
    *,
    command: str,
    quiet: bool = False,
    progress: Optional[Progress] = None,
    labels: Optional[Args] = None,
) -> Tuple[int, str, Optional[str]]:
    """Runs ``gdmilp [global flags] command argv…``.

    stderr passes through to ``sys.stderr`` line by line (nothing with
    ``quiet``); with ``progress`` the command writes JSON events there,
    each handed to ``progress`` as a dict. Returns (exit code, stdout,
    the last ``gdmilp:`` line) for exit 0 and 3; raises :class:`Error`
    for any other exit.
    """
    head: List[str] = [binary()]
    if progress is not None:
        head += ["--progress", "json"]
    tail = list(argv)
    if quiet and supports(command, "--quiet"):
        tail.append("--quiet")
    try:
        proc = subprocess.Popen(
            [*head, command, *tail],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(),
        )
    except OSError as e:
        raise Error(f"{head[0]}: cannot run the gdmilp executable ({e.strerror or e})", code=2) from None
    import threading

    out: List[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    relabel = labels.relabel if labels is not None else (lambda s: s)
    # "gdmilp: …" lines, and clap's usage error with the lines after it: the
    # error line is raised, not printed.
    held: List[str] = []
    usage_error = False
    tail_lines: deque = deque(maxlen=200)
    try:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tail_lines.append(line)
            if progress is not None and line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if isinstance(event, dict):
                    for k, v in event.items():
                        if isinstance(v, str):
                            event[k] = relabel(v)
                    # The command's own one-line verdicts: its failure (the
                    # last event) and an exit-3 caveat ("gdmilp: …" note).
                    text = str(event.get("text", ""))
                    if event.get("event") == "error":
                        held.append(PREFIX + text)
                        continue
                    if event.get("event") == "note" and text.startswith(PREFIX):
                        held.append(text)
                    progress(event)
                    continue
            usage_error = usage_error or line.startswith("error: ")
            if usage_error or line.startswith(PREFIX):
                held.append(line)
                continue
            if not quiet:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        code = proc.wait()
    except BaseException:
        # A progress callback raised, or KeyboardInterrupt: stop the command.
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join()
        proc.stderr.close()
        proc.stdout.close()
    stdout = b"".join(out).decode("utf-8", "replace")
    mine = [l for l in held if l.startswith(PREFIX)]
    if code in (0, 3):
        if held and not quiet:
            for line in held:
                sys.stderr.write(relabel(line) + "\n")
            sys.stderr.flush()
        last = mine[-1][len(PREFIX):] if mine else None
        return code, stdout, relabel(last) if last else None
    if mine:
        message = mine[-1][len(PREFIX):]
    else:
        # clap's own usage errors ("error: unexpected argument …").
        errors = [l for l in tail_lines if l.startswith("error: ")]
        if errors:
            message = errors[-1][len("error: "):]
        elif code < 0:
            message = f"gdmilp was stopped by signal {-code}"
        else:
            text = [l for l in tail_lines if l.strip()]
            message = text[-1] if text else f"gdmilp exited with code {code}"
    raise Error(relabel(message), code=code, stderr=relabel("\n".join(tail_lines)))


def parse_json(text: str, command: str) -> Dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise Error(f"{command}: the command's JSON output could not be read ({e})", code=2) from None
    if not isinstance(value, dict):
        return {"result": value}
    return value
