#!/usr/bin/env python3
"""Checks the relative links of every Markdown file in the repository.

    python3 scripts/check_links.py [ROOT]

For each *.md under ROOT (default: the repository this script is in),
skipping .git, .venv, target and other hidden or build folders, every
inline link or image `[text](dest)` and every reference definition
`[id]: dest` whose destination is relative (no scheme such as https:,
no leading /) must name a file or folder that exists, relative to the
Markdown file. A `#fragment` on a link to a Markdown file (or a bare
`#fragment`, the file itself) must match one of its headings, slugged as
GitHub does. Links inside code spans and fenced code blocks are ignored.

Prints one line per broken link (`FILE:LINE: dest: why`) and exits 1 when
there is any, 0 otherwise. Python 3 standard library only.
"""
import os
import re
import sys
import unicodedata
from urllib.parse import unquote

SKIP_DIRS = {".git", ".venv", "venv", "target", "node_modules", "__pycache__", ".mypy_cache", ".pytest_cache"}
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:name|id)\s*=\s*\"([^\"]+)\"", re.I)


def markdown_files(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(".md"):
                yield os.path.join(folder, name)


def lines_outside_code(text):
    """(line number, line) for lines outside fenced code blocks, with code spans blanked."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)[0] * len(m.group(1))
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        yield number, CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)


def slug(heading):
    """GitHub's anchor for a heading text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").strip().lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LN" or cat == "Mn":
            out.append("-" if ch == " " else ch)
    return "".join(out)


_anchor_cache = {}


def anchors(path):
    if path not in _anchor_cache:
        found, seen = set(), {}
        with open(path, encoding="utf-8") as f:
            text = f.read()
        fence = None
        for line in text.splitlines():
            m = FENCE.match(line)
            if fence is None and m:
                fence = m.group(1)[0] * len(m.group(1))
                continue
            if fence is not None:
                if line.strip().startswith(fence):
                    fence = None
                continue
            h = HEADING.match(line)
            if h:
                base = slug(h.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ANCHOR.findall(line))
        _anchor_cache[path] = found
    return _anchor_cache[path]


def destinations(line):
    """Link destinations of inline links and images on one line."""
    i = 0
    while True:
        i = line.find("](", i)
        if i < 0:
            return
        j, depth = i + 2, 1
        if j < len(line) and line[j] == "<":
            k = line.find(">", j)
            if k < 0:
                return
            yield line[j + 1 : k]
            i = k
            continue
        while j < len(line) and depth:
            if line[j] == "(":
                depth += 1
            elif line[j] == ")":
                depth -= 1
            j += 1
        inner = line[i + 2 : j - 1 if depth == 0 else j].strip()
        yield inner.split()[0] if inner else ""
        i = j


def check(root):
    problems = []
    for md in markdown_files(root):
        with open(md, encoding="utf-8") as f:
            text = f.read()
        rel_md = os.path.relpath(md, root)
        for number, line in lines_outside_code(text):
            dests = list(destinations(line))
            m = REFDEF.match(line)
            if m:
                dests.append(m.group(1).strip("<>"))
            for dest in dests:
                why = broken(md, dest, root)
                if why:
                    problems.append(f"{rel_md}:{number}: {dest or '(empty)'}: {why}")
    return problems


def broken(md, dest, root):
    if not dest:
        return "empty link"
    if SCHEME.match(dest) or dest.startswith("//"):
        return None  # https:, mailto: ...: not checked here
    path, _, fragment = dest.partition("#")
    path = unquote(path.split("?", 1)[0])
    if path.startswith("/"):
        return "absolute path: use a path relative to the file"
    target = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
    if not os.path.abspath(target).startswith(os.path.abspath(root) + os.sep) and os.path.abspath(target) != os.path.abspath(root):
        return "points outside the repository"
    if not os.path.exists(target):
        return "no such file"
    if fragment and target.lower().endswith(".md") and os.path.isfile(target):
        if unquote(fragment) not in anchors(target):
            return f"no heading #{fragment} in {os.path.relpath(target, root)}"
    return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.abspath(root)
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check_links: {len(problems)} broken link(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
