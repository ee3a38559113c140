#!/usr/bin/env python3
"""The layout's rules, checked from the source text (run by scripts/test):

1. no import circle between files of src/ (edges from `crate::` and `super::`
   paths; a file naming its own ancestor module is not an edge: a child may
   use what its parent declares);
2. the library prints nothing: no print!/println!/eprint!/eprintln!/errln!/
   outln!/dbg! outside src/cli/ and src/main.rs (progress goes through
   src/progress.rs);
3. clap is named only in src/cli/ and src/main.rs;
4. at most six .rs files directly in src/ (the rest lives in the stage folders).

Test code (after `#[cfg(test)]`, and files named tests.rs or testgraph.rs) is
left out. Exits 1 listing every breach.
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
MAX_TOP = 6
FRONT = ("src/cli/", "src/main.rs")


def module_of(path):
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def code_of(path):
    text = path.read_text()
    cut = text.find("#[cfg(test)]")
    text = text if cut < 0 else text[:cut]
    # Comments and doc comments name modules without importing them.
    return "\n".join(line.split("//")[0] for line in text.split("\n"))


def is_test_file(path):
    return path.name in ("tests.rs", "testgraph.rs")


def graph(files):
    mods = {module_of(p): p for p in files}
    edges = {p: set() for p in files}

    def target(parts, me, floor):
        for k in range(len(parts), floor, -1):
            if parts[:k] in mods and parts[:k] != me and me[:k] != parts[:k]:
                return mods[parts[:k]]
        return None

    for p in files:
        code = code_of(p)
        me = module_of(p)
        paths = re.findall(r"crate::((?:\w+::)*\w+)", code)
        for group_base, group in re.findall(r"crate::((?:\w+::)*)\{([^}]*)\}", code):
            for item in re.findall(r"\w+(?:::\w+)*", group):
                paths.append(group_base + item)
        for path in paths:
            t = target(tuple(path.split("::")), me, 0)
            if t:
                edges[p].add(t)
        parent = me[:-1]
        for path in re.findall(r"super::((?:\w+::)*\w+)", code):
            parts = parent + tuple(path.split("::"))
            t = target(parts, me, len(parent))
            if t:
                edges[p].add(t)
    return edges


def circles(edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(str(c.relative_to(ROOT)) for c in comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def main():
    files = sorted(p for p in SRC.rglob("*.rs") if not is_test_file(p))
    problems = []
    for c in circles(graph(files)):
        problems.append("import circle: " + " -> ".join(c))
    prints = re.compile(r"\b(e?print(ln)?|errln|outln|dbg)!\s*\(")
    for p in files:
        rel = str(p.relative_to(ROOT))
        if rel.startswith(FRONT):
            continue
        code = code_of(p)
        for n, line in enumerate(code.split("\n"), 1):
            if prints.search(line):
                problems.append(f"{rel}:{n}: prints (report through crate::progress): {line.strip()}")
            if re.search(r"\bclap\b", line):
                problems.append(f"{rel}:{n}: names clap outside src/cli/: {line.strip()}")
    top = sorted(p.name for p in SRC.glob("*.rs"))
    if len(top) > MAX_TOP:
        problems.append(f"{len(top)} .rs files directly in src/ (at most {MAX_TOP}): {', '.join(top)}")
    for line in problems:
        print(line)
    print(f"layout: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
