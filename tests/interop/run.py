#!/usr/bin/env python3
"""Interop suite: every fixture, as .mps and .lp (digits also as .mps.gz), through
every solver that installs on a fresh machine here; for each cell:

  - the solver reads the file and prints no warning about it,
  - its optimum agrees with the embedded HiGHS (1e-6 relative; 1e-4, the
    solvers' default relative gap, for MILPs),
  - our MIP start is accepted where the solver takes one (NAME.mst; CBC's
    `mips` reads its own form, MODEL.cbc.mst),
  - `gdmilp apply` on its solution file verifies (exit 0).

Gurobi and GLPK each get a second column for their other solution format
(Gurobi's JSON, GLPK's printable `-o` report). A solver that is not installed
is skipped with its reason, except when the environment variable CI is set:
CI must have every solver, so there a missing one fails its cells.

Prints a solver x file table and a closing `N passed, N failed` line; exits 1 on
any failure. `--markdown FILE` also writes the table as markdown (the README
keeps a copy); `--only CASE[,CASE]` runs those fixtures alone. Run from the repository root after `scripts/setup`:

    .venv/bin/python tests/interop/run.py
"""
import gzip
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GDMILP = os.path.join(ROOT, "target", "release", "gdmilp")
SOLVERS = ["highs", "highspy", "cbc", "glpk", "glpk-report", "scip", "gurobi", "gurobi-json", "ortools"]
# What each solver needs: a program on PATH or a Python module.
NEEDS = {
    "highspy": ("module", "highspy"),
    "cbc": ("program", "cbc"),
    "glpk": ("program", "glpsol"),
    "glpk-report": ("program", "glpsol"),
    "scip": ("module", "pyscipopt"),
    "gurobi": ("module", "gurobipy"),
    "gurobi-json": ("module", "gurobipy"),
    "ortools": ("module", "ortools"),
}
WARNING = re.compile(r"warn|unknown|ignor|error", re.IGNORECASE)


class Skip(Exception):
    """The solver cannot run this cell here (the reason is printed)."""


class Fail(Exception):
    """The cell failed."""


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def missing(solver):
    """Why `solver` cannot run here, or None when it can."""
    kind, name = NEEDS.get(solver, (None, None))
    if kind == "program" and shutil.which(name) is None:
        return f"`{name}` is not installed"
    if kind == "module" and importlib.util.find_spec(name) is None:
        return f"Python module `{name}` is not installed"
    return None


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
    # The start leaves out the mse segment columns (sg_t_j_k), which are 0.
    s.col_value = [values[n] if not n.startswith("sg_") else values.get(n, 0.0) for n in names]
    s.value_valid = True
    accepted = h.setSolution(s) == highspy.HighsStatus.kOk
    h.run()
    sol = os.path.join(work, "highspy.sol")
    h.writeSolution(sol, 0)
    return h.getInfo().objective_function_value, sol, accepted, []


def solve_cbc(path, start, work):
    sol = os.path.join(work, "cbc.sol")
    # CBC's own start, written by export beside the model.
    r = run(["cbc", path, "mips", path + ".cbc.mst", "solve", "solution", sol], cwd=work)
    if r.returncode != 0 or not os.path.exists(sol):
        raise Fail("cbc failed: " + r.stdout[-200:])
    first = open(sol).readline()
    obj = float(first.rsplit(" ", 1)[1])
    columns = len(read_start(start))
    # CBC's MPS reader and its start reader can turn the same number text
    # into neighbouring doubles, so a start value at a bound may land just
    # outside it: CBC clips it and says so (tested by hand: identical text
    # in an MPS file and a start gives the warning, in an LP file not).
    clipped = re.search(r"Warning: modifying (\d+) solution values outside bounds", r.stdout)
    if "MIPStart provided solution" in r.stdout and clipped:
        accepted = f"{clipped.group(1)} clipped"
    elif "MIPStart provided solution" in r.stdout:
        accepted = True
    elif f"MIPStart values read for {columns} variables" in r.stdout:
        # Enough for an LP, which has no search to use it in (checked below),
        # or when CBC's preprocessing leaves no integer column to search.
        accepted = "no search" if "No integer variables - nothing to do" in r.stdout else "read"
    else:
        accepted = False
    return obj, sol, accepted, warnings_in(r.stdout, allow=("read with 0 errors", "solution values outside bounds"))


def glpsol(path, work, out_flag, out):
    flag = "--lp" if ".lp" in os.path.basename(path) else "--freemps"
    r = run(["glpsol", flag, path, out_flag, out], cwd=work)
    if r.returncode != 0:
        raise Fail("glpsol failed: " + r.stdout[-200:])
    return r


def solve_glpk(path, start, work):
    sol = os.path.join(work, "glpk.sol")
    r = glpsol(path, work, "-w", sol)
    s = next(l for l in open(sol) if l.startswith("s "))
    return float(s.split()[-1]), sol, None, warnings_in(r.stdout)


def solve_glpk_report(path, start, work):
    report = os.path.join(work, "glpk-report.txt")
    r = glpsol(path, work, "-o", report)
    line = next(l for l in open(report) if l.startswith("Objective:"))
    return float(line.split("=")[1].split()[0]), report, None, warnings_in(r.stdout)


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


def solve_gurobi(path, start, work, result="gurobi.sol"):
    import gurobipy

    log = os.path.join(work, result + ".log")
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
    sol = os.path.join(work, result)
    g.write(sol)
    text = open(log).read()
    accepted = "User MIP start" in text or "Loaded user MIP start" in text or g.NumIntVars == 0
    return g.ObjVal, sol, accepted, warnings_in(text, allow=("Restricted license", "Warning for adding"))


def solve_gurobi_json(path, start, work):
    return solve_gurobi(path, start, work, result="gurobi.json")


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
    "glpk-report": solve_glpk_report,
    "scip": solve_scip,
    "gurobi": solve_gurobi,
    "gurobi-json": solve_gurobi_json,
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
    for solver in SOLVERS:
        why = missing(solver)
        if why:
            out[solver] = "not installed"
        elif solver == "cbc":
            out[solver] = next((l.strip() for l in run(["cbc", "-quit"]).stdout.splitlines() if l.startswith("Version")), "cbc")
        elif solver in ("glpk", "glpk-report"):
            out[solver] = run(["glpsol", "--version"]).stdout.splitlines()[0]
        elif solver == "scip":
            import pyscipopt

            out[solver] = f"PySCIPOpt {pyscipopt.__version__}"
        elif solver in ("gurobi", "gurobi-json"):
            import gurobipy

            out[solver] = "gurobipy " + ".".join(map(str, gurobipy.gurobi.version()))
        elif solver == "ortools":
            import ortools

            out[solver] = f"OR-Tools {ortools.__version__} (MPS/LP import, SCIP backend)"
    return out


# Solvers without quadratic objectives (checked here: CBC reads QUADOBJ and
# then solves with a zero objective; GLPK rejects the section).
NO_QUADRATIC = {
    "cbc": "no quadratic objective (CBC reads QUADOBJ, then ignores it)",
    "glpk": "no quadratic objective",
    "glpk-report": "no quadratic objective",
    "ortools": "its MPS import has no QUADOBJ",
}


def main():
    markdown = sys.argv[sys.argv.index("--markdown") + 1] if "--markdown" in sys.argv else None
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
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
    for case in ["regression", "sk_regressor", "tiny_regression", "sequence_regressor"]:
        cells_to_run += [(case, ext, ["--mse-form", "quadratic"]) for ext in ["mps", "lp"]]
    # --protect: the paper's 32 misclassified digits to fix, 1,000 held-out
    # digits that must stay right (every protected row presolve leaves).
    protect = ["--select", "misclassified", "--points", "32", "--protect", "fixtures/digits/protect.npz"]
    cells_to_run += [("digits", ext, protect) for ext in ["mps", "lp"]]
    if only:
        cells_to_run = [c for c in cells_to_run if c[0] in only]
    for case, ext, extra in cells_to_run:
        quadratic = "--mse-form" in extra
        label = ext + (" (quadratic)" if quadratic else " (protect)" if "--protect" in extra else "")
        work = tempfile.mkdtemp(prefix=f"interop-{case}-")
        milp = os.path.join(work, f"layer.{ext}")
        select = [] if "--select" in extra else ["--select", "first", "--points", "40"]
        # The paper's box (export's default is relative, 0.5x): the table in
        # the README is measured on these files.
        r = run([GDMILP, "export", f"fixtures/{case}/model.onnx", f"fixtures/{case}/data.npz", "-o", milp,
                 "--radius", "0.05"] + select + extra, cwd=ROOT)
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
                why = missing(solver)
                if why and os.environ.get("CI"):
                    raise Fail(why + " (CI must have every solver)")
                if why:
                    raise Skip(why)
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
                if accepted == "read" and tolerance == 1e-4:
                    problems.append("MIP start read but not used")
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
                marks = {True: ", start ✓", "read": ", start read", "no search": ", start read, no search", False: "", None: ""}
                mark += marks[accepted] if accepted in marks else f", start ✓, {accepted}"
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
    lines.append("CBC gets its own start (`mips layer.mps.cbc.mst`, `index name value` lines); on an LP it reads every value "
                 "(\"start read\") but has no branch and bound to use them in, nor where its preprocessing leaves no integer "
                 "column (\"no search\"). \"N clipped\": CBC's MPS reader and its start reader turn some number texts into "
                 "neighbouring doubles, so start values at a bound (before the mse segments were anchored at 0, filled ones) can land a hair outside it; CBC clips them, "
                 "warns, and the start is used at its own cost. GLPK's glpsol takes no MIP start; its -o report "
                 "prints 6 digits, which apply allows for. "
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
