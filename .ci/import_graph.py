#!/usr/bin/env python3
"""The module import graph of src/ (every `crate::…` path, `use` or inline), checked
for circles and for arrows from db/ to a resource. Exit 1 on either.

Nodes are modules (files): `crate::todos::store::TodoStore` is an arrow to
`todos::store`. An arrow from a module to its own submodule or parent is not counted.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
RESOURCES = ("todos", "tags", "auth")


def modules():
    mods = {}
    for root, _, files in os.walk(SRC):
        for f in files:
            if not f.endswith(".rs") or f == "main.rs":
                continue
            rel = os.path.relpath(os.path.join(root, f), SRC)[:-3].split(os.sep)
            if rel[-1] == "mod" or rel == ["lib"]:
                rel = rel[:-1]
            mods["::".join(rel)] = os.path.join(root, f)
    return mods


def strip_tests(text):
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def expand_use(body):
    """`a::{b, c::{d}}` -> ["a::b", "a::c::d"]"""
    body = re.sub(r"\s+", "", body)
    out = []

    def rec(prefix, s):
        depth, start, parts = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                parts.append(s[start:i])
                start = i + 1
        parts.append(s[start:])
        for p in filter(None, parts):
            if "{" in p:
                head, rest = p.split("{", 1)
                rec(prefix + head, rest[:-1])
            else:
                out.append(prefix + p)

    rec("", body)
    return out


def targets(text, mods):
    paths = []
    for m in re.finditer(r"\buse\s+crate::([^;]+);", text):
        paths += expand_use(m.group(1))
    for m in re.finditer(r"(?<!use )\bcrate::((?:[a-z_][a-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)", text):
        paths.append(m.group(1))
    found = set()
    for p in paths:
        parts = [x for x in p.split("::") if x and not x.startswith("self")]
        # the longest prefix naming a module
        for n in range(len(parts), 0, -1):
            cand = "::".join(parts[:n])
            if cand in mods:
                found.add(cand)
                break
    return found


def main():
    mods = modules()
    graph = {}
    for name, path in mods.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        graph[name] = {
            t for t in targets(text, mods)
            if t != name and not t.startswith(name + "::") and not name.startswith(t + "::")
        }
    # Tarjan's SCC
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
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
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    bad = False
    for comp in sccs:
        bad = True
        print("circle:", " <-> ".join(comp))
        for v in comp:
            print("   ", v, "->", ", ".join(sorted(graph[v] & set(comp))))
    for v, ts in sorted(graph.items()):
        if v == "db" or v.startswith("db::"):
            for t in sorted(ts):
                if t.split("::")[0] in RESOURCES:
                    bad = True
                    print(f"db arrow to a resource: {v} -> {t}")
    edges = sum(len(t) for t in graph.values())
    print(f"{len(graph)} modules, {edges} arrows, {len(sccs)} circles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
