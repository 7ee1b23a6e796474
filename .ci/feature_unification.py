#!/usr/bin/env python3
"""Fails when `cargo test --workspace` right after `cargo build` would compile a
dependency a second time (README "Build times").

    python3 .ci/feature_unification.py

Cargo compiles a crate once per feature set (and per set of its dependencies' builds).
`cargo build` resolves features without dev-dependencies, `cargo test --workspace` with
them, so a feature a dev-dependency turns on in a shared crate rebuilds that crate and
everything above it. `cargo tree` resolves features the same way (no dev units without
dev edges), so comparing its two graphs finds those crates without building anything:
a unit is (package, features, the units it depends on); a test-build unit of a package
the plain build also compiles, that the plain build does not have, is a second build.
Fix one by giving the package those features in [dependencies] (see Cargo.toml's
"Feature unification only" block). Exit 1 with the list, 0 otherwise.
"""
import hashlib
import subprocess
import sys

WORKSPACE = {"todo-api", "client-sdk"}


def units(args: list[str]) -> set[tuple[str, str]]:
    out = subprocess.run(
        ["cargo", "tree", "--workspace", "--no-dedupe", "--prefix", "depth", "-f", "{p}|{f}", *args],
        capture_output=True, text=True, check=True,
    ).stdout
    found: set[tuple[str, str]] = set()
    stack: list[tuple[int, str, str, list[str]]] = []

    def close() -> None:
        _, pkg, feats, deps = stack.pop()
        unit = hashlib.sha1(f"{pkg}|{feats}|{sorted(set(deps))}".encode()).hexdigest()
        found.add((pkg, unit))
        if stack:
            stack[-1][3].append(unit)

    for line in out.splitlines():
        digits = len(line) - len(line.lstrip("0123456789"))
        if digits == 0 or "|" not in line:
            continue
        depth = int(line[:digits])
        pkg, feats = (s.strip() for s in line[digits:].split("|", 1))
        while stack and stack[-1][0] >= depth:
            close()
        stack.append((depth, pkg, feats, []))
    while stack:
        close()
    return {u for u in found if u[0].split(" ")[0] not in WORKSPACE}


def main() -> int:
    build = units(["-e", "normal,build"])
    test = units(["-e", "normal,build,dev"])
    built = {pkg for pkg, _ in build}
    twice = sorted({pkg for pkg, unit in test - build if pkg in built})
    if twice:
        print(f"`cargo test --workspace` after `cargo build` would compile {len(twice)} dependencies again:")
        for pkg in twice:
            print(f"  {pkg}")
        return 1
    only_test = len({pkg for pkg, _ in test} - built)
    print(f"feature unification OK: {len(build)} dependency units built once; {only_test} packages only for the tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
