#!/usr/bin/env python3
"""The layout's one-way arrows, checked: every #include "dir/file.h" between the project's
folders must follow the allowed edges below, and the folder graph must have no cycle.

  server (main.c) → every folder: it assembles the process
  server/<service> → server/net, server/shared, server/runtime, storage, protocol
  server/init → a service folder (it declares what they create), server/net, runtime, storage, protocol
  server/shared → server/net, server/runtime, storage, protocol
  server/net → server/runtime, storage, protocol
  server/runtime → nothing
  replay → protocol        storage → protocol        protocol → protocol only

Run alone:  python3 tests/layout/check_includes.py [repository root]
"""

import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
SERVICES = ("server/kinesis", "server/s3", "server/firehose", "server/cloudwatch", "server/imds")
BASE = ("server/net", "server/runtime", "storage", "protocol")
ALLOWED = {
    "server": None,  # anything
    "server/init": set(SERVICES) | {"server/shared", *BASE},
    "server/shared": set(BASE),
    "server/net": {"server/runtime", "storage", "protocol"},
    "server/runtime": set(),
    "replay": {"protocol"},
    "storage": {"protocol"},
    "protocol": set(),
}
for s in SERVICES:
    ALLOWED[s] = {"server/shared", *BASE}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder(path):
    return os.path.dirname(path)


def main():
    edges, problems = {}, []
    for top in ("server", "storage", "protocol", "replay"):
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if not name.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                src = folder(rel)
                if src not in ALLOWED:
                    problems.append(f"{rel}: folder {src} has no place in the layout (add it to ALLOWED)")
                    continue
                with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    if "/" not in inc or inc.startswith("tests/"):
                        continue  # generated headers (kpl.pb-c.h sits in protocol/) keep their folder
                    dst = folder(inc)
                    if dst == src:
                        continue
                    edges.setdefault(src, set()).add(dst)
                    allowed = ALLOWED[src]
                    if allowed is not None and dst not in allowed:
                        problems.append(f"{rel} includes {inc}: {src} may not depend on {dst}")
    # no cycle in the folder graph (main's folder included)
    state = {}

    def visit(n, stack):
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                problems.append("cycle: " + " → ".join(stack[stack.index(m):] + [m]) if m in stack else f"cycle via {m}")
            elif m not in state:
                visit(m, stack + [m])
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    for p in problems:
        print(p)
    print(f"{len(edges)} folders, {sum(len(v) for v in edges.values())} arrows between them, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
