#!/usr/bin/env python3
"""Crash consistency, tested the way SQLite tests it: every system call that
can change a file is made to fail, or is the last thing the process does.

For each of `export`, `solve`, `apply` and `tune` on a small fixture:

 1. a clean run under `strace -f` lists the run's write, rename, fsync,
    unlink, link, ftruncate and openat-with-O_CREAT calls, numbered per
    thread as strace's fault injection counts them;
 2. the command is run again once per chosen call with that call failing
    (`-e inject=SYSCALL:error=ENOSPC|EIO:when=N`) and once per chosen call
    with the process killed at it (`:signal=SIGKILL:when=N`), each time in a
    fresh copy of a folder that already holds the previous set of outputs;
 3. after each such run:
    - the command's exit code is 0 (and the new set is in place) or 2 (and
      the previous set is in place), never a panic (101 / "panicked");
    - a kill leaves the previous set, the complete new set, or a new set
      whose commit record (the journal, see docs/file-contract-transactions.md)
      says it must be completed; a mix without one counts as mixed;
    - a reader (`apply` for an export, `eval` for a patched model) settles
      what the dead run left, and `apply` never verifies a mix: after it the
      set is exactly the previous or exactly the new one (SHA-256 of each file);
    - the next run of the same command succeeds, leaves exactly the new set,
      and no temporary, backup, journal or lock file of any run remains.

Which calls (pick them smartly, the whole run takes about a minute on two
cores): every call whose path or file descriptor is in the output folder
(the outputs, their temporaries, backups, journal and lock), with a kill and
one error (ENOSPC and EIO alternate); the other calls (the ONNX Runtime's own
cache, stderr) are sampled, a few per system call. `--all-errors` injects
both ENOSPC and EIO at every chosen call; `--only CMD[,CMD]` runs some
commands; `-j N` runs N scenarios at once (default 2).

Prints one line per command and a closing line, e.g.

    crash: 412 faults injected (export 120, solve 61, apply 131, tune 100): 0 mixed, 0 panics, 0 leftovers, 0 other failures

and exits 1 on any mixed set, panic, leftover or other failure. Needs Debian's
`strace` (scripts/setup installs it) and a release build; run from anywhere:

    .venv/bin/python tests/crash/run.py
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GDMILP = os.environ.get("GDMILP_BIN") or os.path.join(ROOT, "target", "release", "gdmilp")
FIX = os.path.join(ROOT, "fixtures")

# The calls counted and injected. openat counts every open (strace numbers
# them all) but only those that create a file are injected.
SYSCALLS = ["write", "pwrite64", "writev", "rename", "renameat", "renameat2", "fsync",
            "fdatasync", "unlink", "unlinkat", "linkat", "link", "ftruncate", "openat"]
# Files a run may leave only while it runs.
LEFTOVER = re.compile(r"\.gdmilp-(tmp|old|lock|journal)")
SAMPLES_PER_SYSCALL = 3
TIMEOUT = 60


def fx(case, name):
    return os.path.join(FIX, case, name)


def gd(args, cwd, check=True):
    r = subprocess.run([GDMILP] + args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise SystemExit(f"crash: set-up failed: gdmilp {' '.join(args)} in {cwd}: exit "
                         f"{r.returncode}\n{r.stderr}")
    return r


# Each command: `prepare(dir)` makes the previous set (and the inputs), `argv`
# is the command under test (run in the folder), `outputs(dir)` the files of
# its set, `reader` a command that reads the set (None: the set is one file).
def prep_export(d):
    m, x = fx("tiny_regression", "model.onnx"), fx("tiny_regression", "data.npz")
    # The solution of the new export (named like it: apply finds the manifest).
    gd(["export", m, x, "-o", "layer.mps"], d)
    gd(["solve", "layer.mps", "-o", "layer.sol"], d)
    # The previous set: another box, another token.
    gd(["export", m, x, "-o", "layer.mps", "--radius", "0.3"], d)


def prep_solve(d):
    m, x = fx("tiny_regression", "model.onnx"), fx("tiny_regression", "data.npz")
    gd(["export", m, x, "-o", "old.mps", "--radius", "0.3"], d)
    gd(["solve", "old.mps", "-o", "sol.txt"], d)
    for f in os.listdir(d):
        if f.startswith("old.mps"):
            os.remove(os.path.join(d, f))
    gd(["export", m, x, "-o", "layer.mps"], d)


def prep_apply(d):
    # Weights in two external files: the patched model is a set of three.
    m, x = fx("external_files", "model.onnx"), fx("external_files", "data.npz")
    gd(["export", m, x, "-o", "old.mps", "--radius", "0.3"], d)
    gd(["solve", "old.mps", "-o", "old.sol"], d)
    gd(["apply", "old.sol", m, "-o", "p.onnx"], d)
    gd(["export", m, x, "-o", "layer.mps"], d)
    gd(["solve", "layer.mps", "-o", "layer.sol"], d)


def prep_tune(d):
    m, x = fx("regression", "model.onnx"), fx("regression", "data.npz")
    gd(["tune", m, x, "-o", "t.onnx", "--report", "r.json", "--sweeps", "1", "--radius", "0.3"], d)


COMMANDS = {
    "export": dict(
        prepare=prep_export,
        argv=["export", fx("tiny_regression", "model.onnx"), fx("tiny_regression", "data.npz"),
              "-o", "layer.mps"],
        outputs=["layer.mps", "layer.mps.mst", "layer.mps.cbc.mst", "layer.mps.gdmilp.json"],
        reader=["apply", "layer.sol", fx("tiny_regression", "model.onnx"), "-o", "check.onnx"],
    ),
    "solve": dict(
        prepare=prep_solve,
        argv=["solve", "layer.mps", "-o", "sol.txt"],
        outputs=["sol.txt"],
        reader=None,
    ),
    "apply": dict(
        prepare=prep_apply,
        argv=["apply", "layer.sol", fx("external_files", "model.onnx"), "-o", "p.onnx"],
        outputs=["p.onnx", "p.onnx.weights.bin", "p.onnx.bias.bin"],
        reader=["eval", "p.onnx", fx("external_files", "data.npz")],
    ),
    "tune": dict(
        prepare=prep_tune,
        argv=["tune", fx("regression", "model.onnx"), fx("regression", "data.npz"), "-o", "t.onnx",
              "--report", "r.json", "--sweeps", "1", "--radius", "0.1"],
        outputs=["t.onnx", "r.json"],
        reader=["eval", "t.onnx", fx("regression", "data.npz")],
    ),
}


def digest(path):
    """SHA-256 of a file; a JSON report without its timings (they differ per run:
    every `*seconds*` field, and the time limit's split, `budget`, which is measured)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if path.endswith("r.json"):
        try:
            obj = json.loads(data)
        except ValueError:
            return hashlib.sha256(data).hexdigest()

        def strip(v):
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items() if "seconds" not in k and k != "budget"}
            if isinstance(v, list):
                return [strip(x) for x in v]
            return v
        data = json.dumps(strip(obj), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def state(d, outputs):
    return tuple(digest(os.path.join(d, o)) for o in outputs)


def leftovers(d):
    out = []
    for base, dirs, files in os.walk(d):
        out += [os.path.relpath(os.path.join(base, f), d) for f in files if LEFTOVER.search(f)]
    return sorted(out)


def journal_pending(d):
    return any(f.endswith(".gdmilp-journal") for f in os.listdir(d))


def copy(template, parent, name):
    d = os.path.join(parent, name)
    shutil.copytree(template, d, symlinks=True)
    return d


LINE = re.compile(r"^(\d+)\s+(<\.\.\. )?([a-z0-9_]+)[( ]")


def trace(d, argv, log):
    """The run's calls: (syscall, per-thread number, relevant, text)."""
    r = subprocess.run(["strace", "-f", "-qq", "-y", "-s", "64", "-e", "trace=" + ",".join(SYSCALLS),
                        "-o", log, GDMILP] + argv, cwd=d, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if r.returncode != 0:
        raise SystemExit(f"crash: the traced run failed (exit {r.returncode}):\n{r.stderr}")
    counts, calls = {}, []
    with open(log) as f:
        for line in f:
            m = LINE.match(line)
            if not m or m.group(2):  # "<... write resumed>": counted at its start
                continue
            tid, name = m.group(1), m.group(3)
            if name not in SYSCALLS:
                continue
            n = counts[(tid, name)] = counts.get((tid, name), 0) + 1
            if name == "openat" and "O_CREAT" not in line:
                continue
            calls.append((name, n, relevant(line, d, name), line.strip()))
    return calls


PATH_CALLS = {"openat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "linkat", "link"}


def relevant(line, d, name):
    """Whether the call touches the output folder: a descriptor open on a
    file in it (strace -y prints `fd</path>`), or a path argument in it
    (relative paths are: the command runs there)."""
    line = re.sub(r"AT_FDCWD<[^>]*>", "AT_FDCWD", line)
    if any(p.startswith(d) for p in re.findall(r"<(/[^>]*)>", line)):
        return True
    if name not in PATH_CALLS:
        return False
    args = line.split(") = ")[0]
    return any(p.startswith(d) or not p.startswith("/") for p in re.findall(r'"([^"]*)"', args))


# (syscall, n) whose call in some thread writes the command's output to
# stdout: a failure there is exit 2 with the files written (README, exit codes).
STDOUT = set()


def choose(calls, all_errors):
    """(syscall, n, mode) to inject: relevant calls all, the rest sampled."""
    STDOUT.clear()
    seen, chosen, rest = set(), [], {}
    for name, n, rel, text in calls:
        key = (name, n)
        if re.match(r"\d+\s+write\(1<", text):
            STDOUT.add(key)
        if key in seen:
            continue
        seen.add(key)
        if rel:
            chosen.append(key)
        else:
            rest.setdefault(name, []).append(key)
    for name, keys in sorted(rest.items()):
        step = max(1, len(keys) // SAMPLES_PER_SYSCALL)
        chosen += keys[::step][:SAMPLES_PER_SYSCALL]
    faults = []
    for k, (name, n) in enumerate(chosen):
        faults.append((name, n, "SIGKILL"))
        errors = ["ENOSPC", "EIO"] if all_errors else [["ENOSPC", "EIO"][k % 2]]
        faults += [(name, n, e) for e in errors]
    return faults


def scenario(cmd, spec, template, parent, fault, old, new):
    name, n, mode = fault
    tag = f"{cmd} {name}#{n} {mode}"
    d = copy(template, parent, f"{cmd}-{name}-{n}-{mode}")
    how = "signal=SIGKILL" if mode == "SIGKILL" else f"error={mode}"
    r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
                        "-e", f"inject={name}:{how}:when={n}", GDMILP] + spec["argv"],
                       cwd=d, capture_output=True, text=True, timeout=TIMEOUT)
    found = {"mixed": [], "panics": [], "leftovers": [], "other": []}
    if r.returncode == 101 or "panicked" in r.stderr:
        found["panics"].append(f"{tag}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    outs = spec["outputs"]
    s = state(d, outs)
    pending = journal_pending(d)
    if mode != "SIGKILL":
        if r.returncode == 0 and s != new:
            found["other"].append(f"{tag}: exit 0 but the new set is not in place")
        elif r.returncode == 2 and s != old and not pending:
            if not ((name, n) in STDOUT and s == new and "stdout: cannot write" in r.stderr):
                found["other"].append(f"{tag}: exit 2 but the previous set is not in place")
        elif r.returncode not in (0, 2):
            found["other"].append(f"{tag}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    if s not in (old, new) and not pending:
        found["mixed"].append(f"{tag}: a mix with no journal: {describe(s, old, new, outs)}")
    if spec["reader"]:
        rr = subprocess.run([GDMILP] + spec["reader"], cwd=d, capture_output=True, text=True,
                            timeout=TIMEOUT)
        if rr.returncode == 101 or "panicked" in rr.stderr:
            found["panics"].append(f"{tag}: reader exit {rr.returncode}: {rr.stderr.strip()[-300:]}")
        s2 = state(d, outs)
        if s2 not in (old, new):
            found["mixed"].append(f"{tag}: after {spec['reader'][0]} (exit {rr.returncode}): "
                                  f"{describe(s2, old, new, outs)}")
        for f in ("check.onnx",):
            p = os.path.join(d, f)
            if os.path.exists(p):
                os.remove(p)
    nr = subprocess.run([GDMILP] + spec["argv"], cwd=d, capture_output=True, text=True,
                        timeout=TIMEOUT)
    if nr.returncode != 0:
        found["other"].append(f"{tag}: the next run failed (exit {nr.returncode}): "
                              f"{nr.stderr.strip()[-300:]}")
    elif state(d, outs) != new:
        found["mixed"].append(f"{tag}: the next run left {describe(state(d, outs), old, new, outs)}")
    left = leftovers(d)
    if left:
        found["leftovers"].append(f"{tag}: after the next run: {', '.join(left)}")
    shutil.rmtree(d, ignore_errors=True)
    return found


def describe(s, old, new, outs):
    parts = []
    for o, h, a, b in zip(outs, s, old, new):
        parts.append(f"{o}={'missing' if h is None else 'new' if h == b else 'old' if h == a else 'other'}")
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="commands, comma-separated")
    ap.add_argument("--all-errors", action="store_true", help="ENOSPC and EIO at every call")
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("-v", action="store_true", help="list every call injected")
    a = ap.parse_args()
    if shutil.which("strace") is None:
        raise SystemExit("crash: strace is not installed (scripts/setup installs it)")
    if not os.access(GDMILP, os.X_OK):
        raise SystemExit(f"crash: {GDMILP} is missing: cargo build --release")
    cmds = a.only.split(",") if a.only else list(COMMANDS)
    work = tempfile.mkdtemp(prefix="gdmilp-crash-")
    totals = {"mixed": [], "panics": [], "leftovers": [], "other": []}
    tried = {}
    try:
        for cmd in cmds:
            spec = COMMANDS[cmd]
            template = os.path.join(work, cmd + "-template")
            os.makedirs(template)
            spec["prepare"](template)
            old = state(template, spec["outputs"])
            ref = copy(template, work, cmd + "-reference")
            calls = trace(ref, spec["argv"], os.path.join(work, cmd + ".strace"))
            new = state(ref, spec["outputs"])
            if None in new or new == old:
                raise SystemExit(f"crash: {cmd}: the reference run did not write a new set")
            if leftovers(ref):
                raise SystemExit(f"crash: {cmd}: a clean run leaves {leftovers(ref)}")
            faults = choose(calls, a.all_errors)
            if a.v:
                for name, n, rel, text in calls:
                    print(f"  {cmd} {name}#{n} {'*' if rel else ' '} {text[:150]}")
            with concurrent.futures.ThreadPoolExecutor(a.j) as pool:
                results = list(pool.map(
                    lambda f: scenario(cmd, spec, template, work, f, old, new), faults))
            found = {k: [x for r in results for x in r[k]] for k in totals}
            for k in totals:
                totals[k] += found[k]
            tried[cmd] = len(faults)
            rel = sum(1 for c in calls if c[2])
            print(f"crash: {cmd}: {len(calls)} calls ({rel} on the outputs), {len(faults)} faults "
                  f"injected: {len(found['mixed'])} mixed, {len(found['panics'])} panics, "
                  f"{len(found['leftovers'])} leftovers, {len(found['other'])} other", flush=True)
            shutil.rmtree(ref, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for k, v in totals.items():
        for line in v:
            print(f"  {k}: {line}")
    per = ", ".join(f"{c} {n}" for c, n in tried.items())
    print(f"crash: {sum(tried.values())} faults injected ({per}): {len(totals['mixed'])} mixed, "
          f"{len(totals['panics'])} panics, {len(totals['leftovers'])} leftovers, "
          f"{len(totals['other'])} other failures")
    sys.exit(1 if any(totals.values()) else 0)


if __name__ == "__main__":
    main()
