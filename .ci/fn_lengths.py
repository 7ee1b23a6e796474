#!/usr/bin/env python3
"""Lists src/ files over 450 lines and functions over 50 lines (rustfmt layout: a
function ends at the first `}` at its own indentation). A function whose doc comment
or preceding comment says `long:` why is allowed. Exit 1 on any finding."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)")


def main():
    bad = 0
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            lines = open(path, encoding="utf-8").read().split("\n")
            rel = os.path.relpath(path, os.path.join(SRC, ".."))
            if len(lines) > 450:
                print(f"{rel}: {len(lines)} lines")
                bad += 1
            for i, line in enumerate(lines):
                m = FN.match(line)
                if not m or line.rstrip().endswith(";"):
                    continue
                indent = m.group(1)
                end = next(
                    (j for j in range(i + 1, len(lines)) if lines[j] == indent + "}"),
                    None,
                )
                if end is None:
                    continue
                length = end - i + 1
                above = "\n".join(lines[max(0, i - 6):i])
                if length > 50 and "long:" not in above:
                    print(f"{rel}:{i + 1}: fn {m.group(7)} is {length} lines")
                    bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
