#!/usr/bin/env python3
"""Runs the README's walkthrough against a live server and checks every answer.

The walkthrough is the shell blocks that follow a `<!-- walkthrough -->` line, run in
order in one bash process (in a scratch directory), with `API=` pointed at the server.
Every request the server logs meanwhile must be 2xx, unless the walkthrough's comments
announce that status (e.g. "412 PRECONDITION_001"). The server's request log lines are
the evidence, so a command that never reached the server is caught too: there must be
one logged request per `curl`.

Usage: readme_walkthrough.py BASE_URL SERVER_LOG [README]
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def blocks(readme):
    lines = open(readme, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "<!-- walkthrough -->":
            j = i + 1
            assert lines[j].startswith("```sh"), f"line {j + 1}: a ```sh block must follow"
            k = lines.index("```", j + 1)
            out.append("\n".join(lines[j + 1:k]))
            i = k
        i += 1
    return out


def logged_statuses(log, offset):
    statuses = []
    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            fields = entry.get("fields", entry)
            if fields.get("message") == "request" and "status" in fields:
                statuses.append((int(fields["status"]), fields.get("method"), fields.get("route")))
    return statuses


def main():
    base, log = sys.argv[1], sys.argv[2]
    readme = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "README.md")
    script = "\n\n".join(blocks(readme))
    if not script:
        sys.exit("no walkthrough blocks in the README")
    script = re.sub(r"^API=.*$", f"API={base}/api/v1", script, count=1, flags=re.M)
    comments = " ".join(l for l in script.split("\n") if l.lstrip().startswith("#"))
    announced = {int(s) for s in re.findall(r"\b([1-5]\d\d)\b", comments)}
    curls = len(re.findall(r"^\s*(?:[A-Z_]+=\$\()?curl\b", script, flags=re.M))
    offset = os.path.getsize(log)
    with tempfile.TemporaryDirectory() as scratch:
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=scratch,
                             capture_output=True, text=True, timeout=120)
    print(run.stdout)
    if run.returncode != 0:
        print(run.stderr, file=sys.stderr)
        sys.exit(f"the walkthrough failed (bash exit {run.returncode})")
    seen = logged_statuses(log, offset)
    bad = [s for s in seen if not 200 <= s[0] < 300 and s[0] not in announced]
    for status, method, route in seen:
        print(f"  {status} {method} {route}")
    if len(seen) < curls:
        sys.exit(f"{curls} curl commands but only {len(seen)} requests reached the server")
    if bad:
        sys.exit(f"unannounced statuses: {bad}")
    print(f"README walkthrough: {len(seen)} requests, every status 2xx or announced")


if __name__ == "__main__":
    main()
