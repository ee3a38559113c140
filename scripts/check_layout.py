#!/usr/bin/env python3
"""The layout's rules, checked from the source text (run by scripts/test):

1. no import circle, neither between files of src/ nor between its stages
   (the folders src/<stage>/ and the leaf files src/<name>.rs): every `use`
   tree (nested groups, `self`, `super::super`, a child module's name) and
   every `crate::`/`super::`/`self::` path in the code is an edge, except a
   file naming its own ancestor module (a child may use what its parent
   declares);
2. the library prints nothing: no print!/println!/eprint!/eprintln!/errln!/
   outln!/dbg! outside src/cli/ and src/main.rs (progress goes through
   src/progress.rs);
3. clap is named only in src/cli/ and src/main.rs;
4. at most six .rs files directly in src/ (the rest lives in the stage folders).

Test code (`#[cfg(test)]` / `#[cfg(all(test, …))]` items, and files named
tests.rs or testgraph.rs) and comments are left out. Exits 1 listing every
breach. `--self-test` checks the checker on small trees it writes.
"""
import re
import sys
import tempfile
from pathlib import Path

MAX_TOP = 6
FRONT = ("cli", "main")  # the stages allowed to print and to name clap
TEST_FILES = ("tests.rs", "testgraph.rs")


def module_of(src, path):
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.split("\n"):
        # A `//` inside a string literal is rare in this code; cut at the
        # first `//` that is not inside double quotes.
        in_str, cut = False, len(line)
        i = 0
        while i < len(line):
            c = line[i]
            if c == "\\" and in_str:
                i += 2
                continue
            if c == '"':
                in_str = not in_str
            elif not in_str and line.startswith("//", i):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


TEST_ATTR = re.compile(r"#\[cfg\((?:test|all\(test[^\]]*\))\)\]")


def strip_tests(code):
    """Blanks each item behind a test-only attribute, keeping line numbers."""
    while True:
        m = TEST_ATTR.search(code)
        if not m:
            return code
        i = m.end()
        semi, brace = code.find(";", i), code.find("{", i)
        if brace < 0 or (0 <= semi < brace):
            end = semi + 1
        else:
            depth, j = 0, brace
            while j < len(code):
                if code[j] == "{":
                    depth += 1
                elif code[j] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            end = j + 1
        blank = re.sub(r"[^\n]", " ", code[m.start():end])
        code = code[: m.start()] + blank + code[end:]


def expand_use(tree):
    """`a::{b, c::{d, self}}` → ['a::b', 'a::c::d', 'a::c']."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)
    if "{" not in tree:
        return [tree]
    i = tree.index("{")
    prefix = tree[:i]
    inner = tree[i + 1 : tree.rindex("}")]
    parts, depth, cur = [], 0, ""
    for c in inner:
        if c == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        cur += c
    parts.append(cur)
    out = []
    for p in filter(None, parts):
        for e in expand_use(p):
            out.append(prefix[:-2] if e == "self" else prefix + e)
    return out


def resolve(path, me, children):
    """The absolute module path a `use`/expression path names, or None for
    another crate."""
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    head = segs[0]
    if head == "crate":
        return tuple(segs[1:])
    if head in ("super", "self"):
        base = list(me)
        while segs and segs[0] in ("super", "self"):
            if segs.pop(0) == "super":
                base = base[:-1]
        return tuple(base + segs)
    if head in children:
        return tuple(me) + tuple(segs)
    return None


def graph(src, files):
    mods = {module_of(src, p): p for p in files}
    edges = {p: set() for p in files}
    for p in files:
        code = strip_tests(strip_comments(p.read_text()))
        me = module_of(src, p)
        children = set(re.findall(r"\bmod\s+(\w+)\s*;", code))
        paths = []
        for tree in re.findall(r"\buse\s+([^;]+);", code):
            paths += expand_use(tree)
        body = re.sub(r"\buse\s+[^;]+;", " ", code)
        paths += re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", body)
        for c in children:
            paths += re.findall(r"(?<!::)\b(" + c + r"(?:::\w+)+)", body)
        for path in paths:
            parts = resolve(path, me, children)
            if parts is None:
                continue
            for k in range(len(parts), 0, -1):
                if parts[:k] in mods:
                    if parts[:k] != me and me[:k] != parts[:k]:
                        edges[p].add(mods[parts[:k]])
                    break
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
        for w in sorted(edges[v]):
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
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def stage_of(src, p):
    rel = p.relative_to(src)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def check(root):
    src = root / "src"
    files = sorted(p for p in src.rglob("*.rs") if p.name not in TEST_FILES)
    problems = []
    edges = graph(src, files)
    for c in circles(edges):
        problems.append("import circle between files: " + " -> ".join(str(x.relative_to(root)) for x in c))
    stages = {}
    for a, targets in edges.items():
        sa = stage_of(src, a)
        if sa in ("lib", "main"):
            continue
        stages.setdefault(sa, set())
        for b in targets:
            sb = stage_of(src, b)
            if sb != sa:
                stages[sa].add(sb)
                stages.setdefault(sb, set())
    for c in circles(stages):
        why = []
        for a in c:
            for b in c:
                if b in stages[a]:
                    via = sorted(
                        f"{x.relative_to(root)} -> {y.relative_to(root)}"
                        for x, ys in edges.items() if stage_of(src, x) == a
                        for y in ys if stage_of(src, y) == b
                    )
                    why.append(f"{a} -> {b} ({via[0]}{' …' if len(via) > 1 else ''})")
        problems.append("import circle between stages: " + "; ".join(why))
    prints = re.compile(r"\b(e?print(ln)?|errln|outln|dbg)!\s*\(")
    for p in files:
        if stage_of(src, p) in FRONT:
            continue
        code = strip_tests(strip_comments(p.read_text()))
        for n, line in enumerate(code.split("\n"), 1):
            rel = p.relative_to(root)
            if prints.search(line):
                problems.append(f"{rel}:{n}: prints (report through crate::progress): {line.strip()}")
            if re.search(r"\bclap\b", line):
                problems.append(f"{rel}:{n}: names clap outside src/cli/: {line.strip()}")
    top = sorted(p.name for p in src.glob("*.rs"))
    if len(top) > MAX_TOP:
        problems.append(f"{len(top)} .rs files directly in src/ (at most {MAX_TOP}): {', '.join(top)}")
    return files, problems


def self_test():
    """Each case is a small tree and the problems it must produce."""
    base = {
        "src/lib.rs": "pub mod a;\npub mod b;\npub mod cli;\n",
        "src/a/mod.rs": "pub mod x;\npub mod y;\n",
        "src/a/x.rs": "pub fn f() {}\n",
        "src/a/y.rs": "pub fn g() {}\n",
        "src/b/mod.rs": "pub mod z;\n",
        "src/b/z.rs": "pub fn h() {}\n",
        "src/cli/mod.rs": "fn p() { println!(\"ok\"); }\n",
    }
    cases = [
        ("clean", {}, []),
        ("crate paths", {"src/a/x.rs": "use crate::b::z::h;\n", "src/b/z.rs": "use crate::a::x::f;\n"}, ["files", "stages"]),
        ("super::super", {"src/a/x.rs": "use super::super::b::z;\n", "src/b/z.rs": "fn k() { crate::a::x::f(); }\n"}, ["files", "stages"]),
        ("nested group", {"src/a/x.rs": "use crate::{b::{z::h}};\n", "src/b/z.rs": "use crate::a::{x};\n"}, ["files", "stages"]),
        ("child name in mod.rs", {"src/a/mod.rs": "pub mod x;\npub mod y;\npub use y::g;\nuse crate::b::z::h;\n", "src/b/z.rs": "use crate::a::g;\n"}, ["files", "stages"]),
        ("stage circle only", {"src/a/x.rs": "use crate::b::z::h;\n", "src/b/mod.rs": "pub mod z;\nuse crate::a::y::g;\n"}, ["stages"]),
        ("after an early cfg(test)", {"src/a/mod.rs": "#[cfg(test)]\nmod t;\npub mod x;\npub mod y;\nfn q() { eprintln!(\"x\"); }\n"}, ["prints"]),
        ("test module ignored", {"src/a/x.rs": "#[cfg(test)]\nmod tests {\n    fn q() { println!(\"x\"); crate::b::z::h(); }\n}\n", "src/b/z.rs": "use crate::a::x::f;\n"}, []),
        ("an alias", {"src/a/x.rs": "use crate::b::z as zed;\n", "src/b/z.rs": "use crate::a::x::f as g;\n"}, ["files", "stages"]),
        ("clap", {"src/b/z.rs": "#[derive(clap::ValueEnum)]\npub enum E { A }\n"}, ["clap"]),
        ("a comment names a module", {"src/a/x.rs": "// see crate::b::z\n", "src/b/z.rs": "use crate::a::x::f;\n"}, []),
    ]
    failed = 0
    for name, overlay, expect in cases:
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            for rel, text in {**base, **overlay}.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
            _, problems = check(root)
            kinds = set()
            for p in problems:
                kinds.add("files" if "between files" in p else "stages" if "between stages" in p
                          else "prints" if "prints" in p else "clap" if "clap" in p else "other")
            if kinds != set(expect):
                failed += 1
                print(f"self-test '{name}': expected {sorted(expect)}, got {sorted(kinds)}: {problems}")
    print(f"self-test: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    if "--self-test" in sys.argv:
        return self_test()
    root = Path(__file__).resolve().parent.parent
    files, problems = check(root)
    for line in problems:
        print(line)
    print(f"layout: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
