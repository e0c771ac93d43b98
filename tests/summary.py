#!/usr/bin/env python3
"""One line for the whole suite: `N passed, N failed` over the JUnit files ctest wrote
(--output-junit) for each build, with the failed tests named. A missing file (a build
that never got to run its tests) counts as one failure.

Usage: python3 tests/summary.py build/junit.xml build-asan/junit.xml ...
"""

import os
import sys
import xml.etree.ElementTree as ET


def main(paths):
    passed, failed, names = 0, 0, []
    for path in paths:
        label = os.path.basename(os.path.dirname(os.path.abspath(path)))
        try:
            cases = ET.parse(path).getroot().iter("testcase")
        except (OSError, ET.ParseError) as e:
            failed += 1
            names.append(f"{label}: no results ({e.__class__.__name__})")
            continue
        for case in cases:
            if case.get("status") == "run" and case.find("failure") is None and case.find("error") is None:
                passed += 1
            elif case.get("status") in ("disabled", "notrun") or case.find("skipped") is not None:
                continue
            else:
                failed += 1
                names.append(f"{label}: {case.get('name')}")
    for n in names:
        print("  failed:", n)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
