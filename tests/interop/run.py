#!/usr/bin/env python3
"""Interop suite: every fixture, as .mps and .lp (digits also as .mps.gz), through
every solver that installs on a fresh machine here; for each cell:

  - the solver reads the file and prints no warning about it,
  - its optimum agrees with the embedded HiGHS (1e-6 relative; 1e-4, the
    solvers' default relative gap, for MILPs),
  - our MIP start (FILE.mst, e.g. layer.mps.mst) is accepted where the solver takes one,
  - `gdmilp apply` on its solution file verifies (exit 0).

Prints a solver x file table and a closing `N passed, N failed` line; exits 1 on
any failure. `--markdown FILE` also writes the table as markdown (the README
keeps a copy). Run from the repository root after `scripts/setup`:

    .venv/bin/python tests/interop/run.py
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GDMILP = os.path.join(ROOT, "target", "release", "gdmilp")
SOLVERS = ["highs", "highspy", "cbc", "glpk", "scip", "gurobi", "ortools"]
WARNING = re.compile(r"warn|unknown|ignor|error", re.IGNORECASE)


class Skip(Exception):
    """The solver cannot run this cell here (the reason is printed)."""


class Fail(Exception):
    """The cell failed."""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def read_start(path):
    values = {}
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            name, v = line.split()
            values[name] = float(v)
    return values


def warnings_in(text, allow=()):
    bad = [l.strip() for l in text.splitlines() if WARNING.search(l) and not any(a in l for a in allow)]
    return bad


def plain_copy(path, work):
    """Solvers that want an uncompressed file get one (same text)."""
    if not path.endswith(".gz"):
        return path
    out = os.path.join(work, os.path.basename(path)[:-3])
    with gzip.open(path, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def solve_highs(path, start, work):
    sol = os.path.join(work, "highs.sol")
    r = run([GDMILP, "solve", path, "-o", sol, "--start", start])
    if r.returncode != 0:
        raise Fail(r.stderr.strip().splitlines()[-1])
    obj = float(next(l for l in open(sol) if l.startswith("Objective ")).split()[1])
    return obj, sol, "MIP start from" in r.stderr, []


def solve_highspy(path, start, work):
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    if h.readModel(path) != highspy.HighsStatus.kOk:
        raise Fail("readModel failed")
    values = read_start(start)
    names = list(h.getLp().col_names_)
    s = highspy.HighsSolution()
    s.col_value = [values[n] for n in names]
    s.value_valid = True
    accepted = h.setSolution(s) == highspy.HighsStatus.kOk
    h.run()
    sol = os.path.join(work, "highspy.sol")
    h.writeSolution(sol, 0)
    return h.getInfo().objective_function_value, sol, accepted, []


def solve_cbc(path, start, work):
    sol = os.path.join(work, "cbc.sol")
    r = run(["cbc", path, "solve", "solution", sol], cwd=work)
    if r.returncode != 0 or not os.path.exists(sol):
        raise Fail("cbc failed: " + r.stdout[-200:])
    first = open(sol).readline()
    obj = float(first.rsplit(" ", 1)[1])
    return obj, sol, None, warnings_in(r.stdout, allow=("read with 0 errors",))


def solve_glpk(path, start, work):
    sol = os.path.join(work, "glpk.sol")
    flag = "--lp" if ".lp" in os.path.basename(path) else "--freemps"
    r = run(["glpsol", flag, path, "-w", sol], cwd=work)
    if r.returncode != 0:
        raise Fail("glpsol failed: " + r.stdout[-200:])
    s = next(l for l in open(sol) if l.startswith("s "))
    return float(s.split()[-1]), sol, None, warnings_in(r.stdout)


def solve_scip(path, start, work):
    from pyscipopt import Model

    m = Model()
    m.hideOutput()
    m.readProblem(plain_copy(path, work))
    values = read_start(start)
    variables = m.getVars()
    # A quadratic objective becomes a constraint on SCIP's own variable,
    # which the start does not name: SCIP completes a partial start.
    partial = any(v.name not in values for v in variables)
    s = m.createPartialSol() if partial else m.createSol()
    for v in variables:
        if v.name in values:
            m.setSolVal(s, v, values[v.name])
    accepted = m.addSol(s)
    m.optimize()
    sol = os.path.join(work, "scip.sol")
    m.writeBestSol(sol)
    return m.getObjVal(), sol, accepted, []


def solve_gurobi(path, start, work):
    try:
        import gurobipy
    except ImportError:
        raise Skip("gurobipy not installed")
    log = os.path.join(work, "gurobi.log")
    try:
        env = gurobipy.Env(empty=True)
        env.setParam("LogToConsole", 0)
        env.setParam("LogFile", log)
        env.start()
        g = gurobipy.read(path, env=env)
        g.read(start)
        g.optimize()
    except gurobipy.GurobiError as e:
        if "size-limited" in str(e) or "license" in str(e).lower():
            raise Skip("licence refuses this size: " + str(e))
        raise Fail(str(e))
    sol = os.path.join(work, "gurobi.sol")
    g.write(sol)
    text = open(log).read()
    accepted = "User MIP start" in text or "Loaded user MIP start" in text or g.NumIntVars == 0
    return g.ObjVal, sol, accepted, warnings_in(text, allow=("Restricted license", "Warning for adding"))


def solve_ortools(path, start, work):
    from ortools.linear_solver.python import model_builder as mb

    plain = plain_copy(path, work)
    if plain.endswith(".lp"):
        raise Skip("OR-Tools' LP import reads its own LP dialect, not CPLEX LP")
    m = mb.Model()
    if not m.import_from_mps_file(plain):
        raise Fail("OR-Tools could not import the file")
    s = mb.Solver("SCIP")
    status = s.solve(m)
    if status != mb.SolveStatus.OPTIMAL:
        raise Fail(f"status {status}")
    return s.objective_value, None, None, []


SOLVE = {
    "highs": solve_highs,
    "highspy": solve_highspy,
    "cbc": solve_cbc,
    "glpk": solve_glpk,
    "scip": solve_scip,
    "gurobi": solve_gurobi,
    "ortools": solve_ortools,
}


def fixtures():
    base = os.path.join(ROOT, "fixtures")
    return sorted(
        d for d in os.listdir(base)
        if os.path.isfile(os.path.join(base, d, "model.onnx")) and os.path.isfile(os.path.join(base, d, "data.npz"))
    )


def versions():
    out = {}
    out["highs"] = run([GDMILP, "--version"]).stdout.strip() + " (HiGHS 1.16 embedded)"
    import highspy

    out["highspy"] = "highspy " + getattr(highspy, "__version__", "1.16")
    out["cbc"] = next((l.strip() for l in run(["cbc", "-quit"]).stdout.splitlines() if l.startswith("Version")), "cbc")
    out["glpk"] = run(["glpsol", "--version"]).stdout.splitlines()[0]
    import pyscipopt

    out["scip"] = f"PySCIPOpt {pyscipopt.__version__}"
    try:
        import gurobipy

        out["gurobi"] = "gurobipy " + ".".join(map(str, gurobipy.gurobi.version()))
    except ImportError:
        out["gurobi"] = "not installed"
    import ortools

    out["ortools"] = f"OR-Tools {ortools.__version__} (MPS/LP import, SCIP backend)"
    return out


# Solvers without quadratic objectives (checked here: CBC reads QUADOBJ and
# then solves with a zero objective; GLPK rejects the section).
NO_QUADRATIC = {
    "cbc": "no quadratic objective (CBC reads QUADOBJ, then ignores it)",
    "glpk": "no quadratic objective",
    "ortools": "its MPS import has no QUADOBJ",
}


def main():
    markdown = sys.argv[sys.argv.index("--markdown") + 1] if "--markdown" in sys.argv else None
    if not os.path.exists(GDMILP):
        sys.exit(f"{GDMILP} is missing: run scripts/setup")
    rows = []
    passed = failed = skipped = 0
    failures = []
    cells_to_run = []
    for case in fixtures():
        files = ["mps", "lp"] + (["mps.gz"] if case == "digits" else [])
        cells_to_run += [(case, ext, []) for ext in files]
    # mse's exact quadratic objective, on the linear-output regressions.
    for case in ["regression", "sk_regressor", "tiny_regression"]:
        cells_to_run += [(case, ext, ["--mse-form", "quadratic"]) for ext in ["mps", "lp"]]
    for case, ext, extra in cells_to_run:
        quadratic = bool(extra)
        label = ext + (" (quadratic)" if quadratic else "")
        work = tempfile.mkdtemp(prefix=f"interop-{case}-")
        milp = os.path.join(work, f"layer.{ext}")
        r = run([GDMILP, "export", f"fixtures/{case}/model.onnx", f"fixtures/{case}/data.npz", "-o", milp,
                 "--select", "first", "--points", "40"] + extra, cwd=ROOT)
        if r.returncode != 0:
            rows.append((case, label, {s: "✗ export: " + r.stderr.strip() for s in SOLVERS}))
            failed += len(SOLVERS)
            continue
        manifest = os.path.join(work, f"layer.{ext}.gdmilp.json")
        # MIP solvers stop within their default relative gap (1e-4 for
        # HiGHS, CBC, Gurobi): optima of MILPs agree to that.
        with open(manifest) as f:
            tolerance = 1e-4 if json.load(f)["counts"]["binaries"] else 1e-6
        start = os.path.join(work, f"layer.{ext}.mst")
        cells, reference = {}, None
        for solver in SOLVERS:
            try:
                if quadratic and solver in NO_QUADRATIC:
                    raise Skip(NO_QUADRATIC[solver])
                obj, sol, accepted, warns = SOLVE[solver](milp, start, work)
                if reference is None:
                    reference = obj
                problems = []
                if warns:
                    problems.append("warnings: " + "; ".join(warns[:2]))
                if abs(obj - reference) > tolerance * max(1.0, abs(reference)):
                    problems.append(f"optimum {obj!r} != HiGHS {reference!r}")
                if accepted is False:
                    problems.append("MIP start refused")
                verified = None
                if sol:
                    a = run([GDMILP, "apply", sol, f"fixtures/{case}/model.onnx", "--manifest", manifest,
                             "-o", os.path.join(work, f"{solver}.onnx"), "--json"], cwd=ROOT)
                    verified = a.returncode == 0 and json.loads(a.stdout).get("verified") is True
                    if not verified:
                        problems.append("apply: " + (a.stderr.strip() or a.stdout.strip())[:120])
                if problems:
                    raise Fail(", ".join(problems))
                mark = "✓ " + format(obj, ".6g")
                mark += {True: ", start ✓", False: "", None: ""}[accepted]
                mark += "" if verified else " (no solution file)" if verified is None else ""
                cells[solver] = mark
                passed += 1
            except Skip as e:
                cells[solver] = f"skip: {e}"
                skipped += 1
                print(f"skip {case}.{label} {solver}: {e}", file=sys.stderr)
            except Exception as e:  # noqa: BLE001 - any failure of a cell is reported in the table
                cells[solver] = f"✗ {e}"
                failed += 1
                failures.append(f"{case}.{label} {solver}: {e}")
        rows.append((case, label, cells))
        shutil.rmtree(work, ignore_errors=True)
    header = "| fixture | file | " + " | ".join(SOLVERS) + " |"
    lines = [header, "|" + " --- |" * (len(SOLVERS) + 2)]
    for case, ext, cells in rows:
        lines.append(f"| {case} | .{ext} | " + " | ".join(cells.get(s, "") for s in SOLVERS) + " |")
    v = versions()
    lines.append("")
    lines.append("Versions: " + "; ".join(f"{k}: {v[k]}" for k in SOLVERS) + ".")
    lines.append("CBC's MIP start (`mips`) reads `index name value` lines, not the MST form; GLPK's glpsol takes no MIP start; "
                 "OR-Tools' model builder writes no solution file, so its cells check the optimum only, and its LP import "
                 "reads OR-Tools' own LP dialect, not CPLEX LP, so it runs on the MPS files.")
    table = "\n".join(lines)
    print(table)
    if markdown:
        with open(markdown, "w") as f:
            f.write(table + "\n")
    for f in failures:
        print("FAILED " + f, file=sys.stderr)
    print(f"interop: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
