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
    lost), 2 bad input (the API's own checks of the arguments included) or
    any other error, 128 + n the command was killed by signal n (SIGINT
    raises KeyboardInterrupt instead). ``err.stderr`` holds the end of
    what the command wrote on stderr.
    """

    def __init__(self, message: str, code: int = 2, stderr: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"gdmilp.Error({self.message!r}, code={self.code})"

    def __reduce__(self) -> Any:
        return (Error, (self.message, self.code, self.stderr))


# Shown (tracebacks, repr of the class, pickling) as where users find it.
Error.__module__ = "gdmilp"


# ----------------------------------------------------------------------------
# The executable and ONNX Runtime


EXE = "gdmilp.exe" if os.name == "nt" else "gdmilp"


def _scripts_dirs() -> List[str]:
    """Where the wheel puts the executable: this Python's scripts
    directories."""
    import sysconfig

    dirs = [os.path.dirname(sys.executable)]
    for scheme in (None, f"{os.name}_user"):
        try:
            dirs.append(sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts"))
        except KeyError:
            pass
    return dirs


_HERE = __file__


def _checkout_binary(here: Optional[str] = None) -> Optional[str]:
    """``<repo>/target/release/gdmilp`` when this package is imported from a
    checkout's ``python/`` directory (a Cargo.toml two levels above the
    package), for ``PYTHONPATH=python`` after ``cargo build --release``."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(here or _HERE))))
    if not os.path.isfile(os.path.join(root, "Cargo.toml")):
        return None
    p = os.path.join(root, "target", "release", EXE)
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


def binary() -> str:
    """The gdmilp executable: $GDMILP, else the one installed beside this
    package's Python (the wheel puts it in the environment's scripts
    directory), else, in a checkout, target/release/gdmilp, else the first
    ``gdmilp`` on PATH."""
    env = os.environ.get("GDMILP")
    if env:
        return env
    import shutil

    exe = EXE
    for d in _scripts_dirs():
        p = os.path.join(d, exe)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    built = _checkout_binary()
    if built:
        return built
    found = shutil.which(exe)
    if found:
        return found
    raise Error(
        "the gdmilp executable was not found beside this Python, in a checkout's "
        "target/release or on PATH; "
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


def help_text(command: Optional[str]) -> str:
    """``gdmilp [command] --help`` (asked once per executable, command and
    process; empty when it cannot be run)."""
    exe = binary()
    key = (exe, command) if command else (exe,)
    if key not in _HELP:
        try:
            r = subprocess.run(
                [*key, "--help"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=environment(),
            )
            _HELP[key] = r.stdout.decode("utf-8", "replace") if r.returncode == 0 else ""
        except OSError:
            _HELP[key] = ""
    return _HELP[key]


# An option's own line ("  -q, --quiet", "      --sweeps <K>"), not a
# mention of it in another option's description.
# (clap indents them 2 or 6 spaces, descriptions 10.)
_OPTION_LINE = re.compile(r"^ {2,6}(?:-\w, )?--([A-Za-z0-9][\w-]*)( *[<\[=])?", re.M)


def supports(command: Optional[str], flag: str) -> bool:
    """Whether ``gdmilp [command] --help`` lists ``flag``."""
    pattern = r"^\s+(?:-\w, )?" + re.escape(flag) + r"(?:[ =\[<]|$)"
    return re.search(pattern, help_text(command), re.M) is not None


def option_specs(command: str) -> Optional[Dict[str, bool]]:
    """The options ``gdmilp COMMAND --help`` lists, as Python names
    (``time_limit``) -> whether the option takes a value; None when the
    help cannot be read (then the command itself checks them)."""
    text = help_text(command)
    specs: Dict[str, bool] = {}
    for m in _OPTION_LINE.finditer(text):
        specs.setdefault(m.group(1).replace("-", "_"), m.group(2) is not None)
    return specs or None


# ----------------------------------------------------------------------------
# Python values -> arguments


def path_arg(value: Any, what: str) -> str:
    """A path given as str, bytes or os.PathLike, as a str (bytes that are
    not UTF-8 through os.fsdecode, so the child gets the same bytes)."""
    if isinstance(value, (str, bytes, os.PathLike)):
        try:
            p = os.fsdecode(os.fspath(value))
        except (TypeError, ValueError) as e:
            raise Error(f"{what}: not a usable path ({e})", code=2) from None
        if p and "\0" not in p:
            # Not to be read as a flag: "-m.onnx" is passed as "./-m.onnx".
            return os.path.join(os.curdir, p) if p.startswith("-") else p
        raise Error(f"{what}: {'an empty path' if not p else 'a path with a NUL byte'} is not a path", code=2)
    raise Error(f"{what}: a path is required (str, bytes or os.PathLike), not {_kind(value)}", code=2)


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def is_bool(value: Any) -> bool:
    """True/False, and numpy's bools (np.True_), without importing numpy."""
    t = type(value)
    return t is bool or (t.__module__ == "numpy" and t.__name__ in ("bool_", "bool"))


# Options the API passes itself: why each cannot be given.
RESERVED = {
    "json": "the API passes --json itself and returns what it prints",
    "output_file": "give the file to write as out=",
    "o": "give the file to write as out=",
    "progress": "give progress= a callable, or quiet=True",
    "help": "see help(gdmilp.FUNCTION) or gdmilp COMMAND --help",
    "version": "see gdmilp.__version__",
}

# Arrays the manifest names, beside export's output: OUT.data-HASH.npz.
_BESIDE_NAMES = ("data", "protect")


def _fsync_dir(d: str) -> None:
    if os.name == "nt":
        return
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def savez(f: Any, arrays: Mapping[str, Any]) -> None:
    """What numpy.savez writes, to an open binary file, without its
    keyword clash (an array named ``file``) or pickles, and with a fixed
    timestamp in the zip: the same arrays give the same bytes, so the same
    OUT.data-HASH.npz name."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for key, a in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            with z.open(info, "w", force_zip64=True) as g:
                np.lib.format.write_array(g, np.asanyarray(a), allow_pickle=False)


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # (os.kill ends a process on Windows)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True  # someone else's process, or cannot tell
    return True


def _manifest_names(manifest: str) -> Optional[set]:
    """The file names (basenames) a manifest mentions, None when it cannot
    be read (then nothing it might name is removed)."""
    try:
        with open(manifest, "rb") as f:
            value = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError):
        return None
    names: set = set()

    def walk(v: Any) -> None:
        if isinstance(v, str):
            names.add(os.path.basename(v))
        elif isinstance(v, dict):
            b = v.get("bytes")
            if isinstance(b, list) and all(isinstance(i, int) for i in b):
                names.add(os.path.basename(os.fsdecode(bytes(b))))
            elif isinstance(b, str):
                try:
                    names.add(os.path.basename(os.fsdecode(bytes.fromhex(b))))
                except ValueError:
                    pass
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return names


class Args:
    """Turns models, data and options into command-line arguments, writing
    what is in memory to files in a temporary directory (removed by
    :meth:`close`)."""

    def __init__(self, command: str, beside: Optional[str] = None, keep: Optional[str] = None) -> None:
        self.command = command
        self._tmp: Optional[tempfile.TemporaryDirectory] = None
        # temporary path -> what the caller gave, for error messages
        self.labels: Dict[str, str] = {}
        # Arrays that must outlive the call (export: apply reads the data
        # file the manifest names) go beside this path instead, as
        # BESIDE.<name>-<sha256[:12]>.npz; see commit() and close().
        self.beside = beside
        self.kept: List[str] = []
        self._created: List[str] = []  # beside files this call made
        self._before: Optional[List[str]] = None  # beside files there before
        # tune --keep DIR: arrays go to DIR/<name>.npz, for the kept
        # manifests to name files that stay.
        self.keep = keep
        self._term = _TermGuard()

    def __enter__(self) -> "Args":
        self._term.__enter__()
        if self.beside is not None:
            # What earlier exports left beside the output; commit() removes
            # those the new manifest does not name.
            self._before = self._beside_files()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.close()
        finally:
            self._term.__exit__()

    # -------------------------------------------------- files beside the output

    def _beside_files(self) -> List[str]:
        """OUT.data-HASH.npz and OUT.protect-HASH.npz, and the temporary
        files of processes that died writing them."""
        assert self.beside is not None
        d = os.path.dirname(self.beside) or "."
        base = re.escape(os.path.basename(self.beside))
        pat = re.compile(base + r"\.(?:data|protect)-[0-9a-f]{12}\.npz")
        tmp = re.compile(r"\." + base + r"\.(?:data|protect)\.([0-9]+)\.[0-9a-f]{8}\.tmp")
        try:
            names = os.listdir(d)
        except OSError:
            return []
        found = []
        for n in names:
            m = tmp.fullmatch(n)
            if pat.fullmatch(n) or (m and not _alive(int(m.group(1)))):
                found.append(os.path.join(os.path.dirname(self.beside), n))
        return found

    def commit(self) -> None:
        """The command succeeded: keep the arrays written beside its output,
        and remove those of earlier exports the new manifest does not name."""
        if self.beside is not None and self._before:
            named = _manifest_names(self.beside + ".gdmilp.json")
            if named is not None:
                for p in self._before:
                    if p not in self.kept and os.path.basename(p) not in named:
                        try:
                            os.remove(p)
                        except OSError:
                            pass
        self._created = []

    def close(self) -> None:
        # Not committed: remove what this call wrote beside the output,
        # unless a manifest there names it (the command committed, then failed).
        if self._created and self.beside is not None:
            named = _manifest_names(self.beside + ".gdmilp.json")
            for p in self._created:
                if named is not None and os.path.basename(p) not in named:
                    try:
                        os.remove(p)
                    except OSError:
                        pass
        self._created = []
        if self._tmp is not None:
            try:
                self._tmp.cleanup()
            except OSError:
                import shutil

                shutil.rmtree(self._tmp.name, ignore_errors=True)
            self._tmp = None

    def _write_beside(self, arrays: Dict[str, Any], name: str) -> str:
        """OUT.<name>-<sha256[:12]>.npz, written to a temporary name in the
        same folder, fsynced and renamed: never overwrites a file an earlier
        manifest names (a different content has a different name)."""
        import hashlib
        import secrets

        assert self.beside is not None
        folder = os.path.dirname(self.beside)
        base = os.path.basename(self.beside)
        tmp = os.path.join(folder, f".{base}.{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        final = None
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            try:
                with os.fdopen(fd, "wb") as f:
                    savez(f, arrays)
                    f.flush()
                    os.fsync(f.fileno())
                h = hashlib.sha256()
                with open(tmp, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                final = f"{self.beside}.{name}-{h.hexdigest()[:12]}.npz"
                existed = os.path.exists(final)
                os.replace(tmp, final)
            except BaseException:
                try:
                    os.remove(tmp)
                except OSError:
                    pass
                raise
        except OSError as e:
            where = f"{folder or '.'}"
            raise Error(
                f"out: cannot write the {name} arrays beside {self.beside} in {where} ({e.strerror or e})", code=2
            ) from None
        _fsync_dir(folder or ".")
        if not existed:
            self._created.append(final)
        self.kept.append(final)
        return final

    def _write_keep(self, arrays: Dict[str, Any], name: str) -> str:
        """KEEP/<name>.npz (tune --keep), written atomically."""
        assert self.keep is not None
        final = os.path.join(self.keep, f"{name}.npz")
        tmp = os.path.join(self.keep, f".{name}.npz.{os.getpid()}.tmp")
        try:
            os.makedirs(self.keep, exist_ok=True)
            with open(tmp, "wb") as f:
                savez(f, arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError as e:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise Error(f"keep: cannot write {final} ({e.strerror or e})", code=2) from None
        self.kept.append(final)
        return final

    # -------------------------------------------------- temporary files

    def _path(self, name: str) -> str:
        if self._tmp is None:
            try:
                self._tmp = tempfile.TemporaryDirectory(prefix="gdmilp-")
            except OSError as e:
                raise Error(f"{tempfile.gettempdir()}: cannot make a temporary folder ({e.strerror or e})", code=2) from None
        return os.path.join(self._tmp.name, name)

    def _write_temp(self, name: str, label: str, write: Callable[[Any], None]) -> str:
        path = self._path(name)
        try:
            with open(path, "wb") as f:
                write(f)
        except OSError as e:
            raise Error(f"{label}: cannot write a temporary copy in {os.path.dirname(path)} ({e.strerror or e})", code=2) from None
        self.labels[path] = label
        return path

    def model(self, model: Any, name: str = "model") -> str:
        """A path, bytes of an ONNX file, or an ``onnx.ModelProto``."""
        if isinstance(model, (str, os.PathLike)):
            return path_arg(model, name)
        if isinstance(model, (bytes, bytearray, memoryview)):
            return self._write_temp(f"{name}.onnx", f"{name} (bytes in memory)", lambda f: f.write(model))
        if hasattr(model, "SerializeToString") and hasattr(model, "graph"):
            return self._proto(model, name)
        raise Error(
            f"{name}: a path, the bytes of an ONNX file or an onnx.ModelProto is required, not {_kind(model)}",
            code=2,
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
        if model.ByteSize() < 2**31 - 1:
            return self._write_temp(f"{name}.onnx", f"{name} (ModelProto in memory)",
                                    lambda f: f.write(model.SerializeToString()))
        # Over protobuf's 2 GB: a copy with its weights in one data file
        # beside it (gdmilp reads external data); the caller's proto is
        # left as it was.
        import onnx

        path = self._path(f"{name}.onnx")
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        try:
            onnx.save_model(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=f"{name}.onnx.data")
        except OSError as e:
            raise Error(f"{name}: cannot write a temporary copy ({e.strerror or e})", code=2) from None
        self.labels[path] = f"{name} (ModelProto in memory)"
        return path

    def data(self, data: Any, name: str = "data") -> str:
        """A path to an .npz, or a mapping of array-likes written with
        numpy.savez."""
        if isinstance(data, (str, bytes, os.PathLike)):
            return path_arg(data, name)
        if isinstance(data, Mapping):
            import numpy as np

            arrays = {}
            for k, v in data.items():
                if not isinstance(k, str):
                    raise Error(f"{name}: array names must be strings, not {k!r}", code=2)
                if hasattr(v, "detach"):  # a torch tensor
                    v = v.detach().cpu().numpy()
                try:
                    a = np.asarray(v)
                except (ValueError, TypeError) as e:
                    msg = " ".join(str(e).split())
                    raise Error(f"{name}[{k!r}]: not an array ({msg})", code=2) from None
                if a.dtype.kind == "O":
                    raise Error(f"{name}[{k!r}]: not an array of numbers (ragged, or objects)", code=2)
                arrays[k] = a
            if self.keep is not None:
                return self._write_keep(arrays, name)
            if self.beside is not None:
                return self._write_beside(arrays, name)

            def write(f: Any) -> None:
                savez(f, arrays)

            return self._write_temp(f"{name}.npz", f"{name} (arrays in memory)", write)
        raise Error(
            f"{name}: a path to an .npz file or a mapping of arrays (e.g. {{'x': X, 'y': y}}) "
            f"is required, not {_kind(data)}",
            code=2,
        )

    def options(self, options: Mapping[str, Any]) -> List[str]:
        """``radius="auto"`` -> ``--radius auto``; True -> a bare flag;
        False / None -> left out; a list or tuple -> the flag once per
        value; a mapping (``val=``, ``protect=``) -> an .npz written for it.
        Checked against ``gdmilp COMMAND --help``: an unknown name, a bool
        for an option that takes a value or a value for a bare flag is an
        Error (code 2) before anything runs."""
        self.check(options)
        known = option_specs(self.command)
        out: List[str] = []
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if value is None or (is_bool(value) and not value):
                continue
            if is_bool(value):
                out.append(flag)
                continue
            if isinstance(value, Mapping):
                value = self.data(value, key)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if isinstance(v, (bytes, os.PathLike)):
                    v = path_arg(v, key)
                # --flag=value: a value that starts with "-" (margin=-1) is
                # not read as another flag.
                out.append(f"{flag}={v}")
        return out

    def check(self, options: Mapping[str, Any]) -> None:
        """Raises Error (code 2) for an option the command does not have, or
        a value of the wrong kind, before anything is written or run."""
        command = self.command
        known = option_specs(command)
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if key in RESERVED:
                raise Error(f"{key}: not an option of gdmilp.{command} ({RESERVED[key]})", code=2)
            takes_value = None
            if known is not None:
                if key not in known:
                    raise Error(f"unknown option {key} for {command} (gdmilp {command} --help lists them)", code=2)
                takes_value = known[key]
            if value is None or (is_bool(value) and not value):
                continue
            if is_bool(value):
                if takes_value:
                    raise Error(f"{key}: {flag} takes a value, not True", code=2)
                continue
            if takes_value is False:
                raise Error(f"{key}: {flag} is a flag: give True or False, not {value!r}", code=2)
            if isinstance(value, Mapping):
                continue
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if v is None or is_bool(v) or isinstance(v, Mapping):
                    raise Error(f"{key}: {flag} takes a value, not {v!r}", code=2)
                if isinstance(v, (bytes, os.PathLike)):
                    path_arg(v, key)

    def temp(self, name: str) -> str:
        """A path in the temporary directory, for an output read back."""
        return self._path(name)

    def relabel(self, text: str) -> str:
        for path, label in self.labels.items():
            text = text.replace(path, label)
        return text


class _TermGuard:
    """While a call runs, SIGTERM raises SystemExit(143) in the main thread
    (so finally blocks stop the command and remove the temporary folder),
    when SIGTERM has no handler of the program's own (SIG_DFL); whatever
    was there is put back afterwards."""

    def __init__(self) -> None:
        self._installed = False

    @staticmethod
    def _handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    def __enter__(self) -> None:
        import signal
        import threading

        if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _TermGuard._handler)
                self._installed = True
        except (ValueError, OSError):
            pass

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._installed:
            self._installed = False
            try:
                if signal.getsignal(signal.SIGTERM) is _TermGuard._handler:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
            except (ValueError, OSError):
                pass


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
    if progress is not None and not callable(progress):
        raise Error(f"progress: a callable (called with each event as a dict) is required, not {_kind(progress)}", code=2)
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
        # A progress callback raised, KeyboardInterrupt, SystemExit (SIGTERM):
        # stop the command the way that lets it clean up after itself.
        stop(proc)
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
    if code < 0:
        import signal

        if -code == getattr(signal, "SIGINT", 2):
            raise KeyboardInterrupt
        # The command's own convention for a death by signal n: 128 + n.
        n = -code
        code = 128 + n
        if not mine:
            try:
                message = f"gdmilp was stopped by signal {n} ({signal.Signals(n).name})"
            except ValueError:
                message = f"gdmilp was stopped by signal {n}"
    raise Error(relabel(message), code=code, stderr=relabel("\n".join(tail_lines)))


GRACE = 5.0  # seconds the command has to remove its temporaries and lock


def stop(proc: "subprocess.Popen[bytes]") -> None:
    """Stops the command: SIGINT, on which it removes its temporaries and
    its lock (a commit under way finishes first) and exits; SIGKILL only if
    it has not ended GRACE seconds later."""
    if proc.poll() is not None:
        return
    import signal

    try:
        if os.name == "nt":
            proc.kill()
        else:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:
        # A second Ctrl-C while waiting: no more grace.
        proc.kill()
        proc.wait()
        raise


def parse_json(text: str, command: str) -> Dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise Error(f"{command}: the command's JSON output could not be read ({e})", code=2) from None
    if not isinstance(value, dict):
        return {"result": value}
    return value
