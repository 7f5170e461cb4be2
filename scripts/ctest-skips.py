#!/usr/bin/env python3
"""Lists the tests a ctest run did not run, from its JUnit file
(ctest --output-junit): one line per test, "name: why", where why is the
test's own explanation (a line of its output starting with SKIP, or its
last line of output) or CTest's.  Prints nothing when every test ran.

    python3 scripts/ctest-skips.py build/ctest-junit.xml
"""
import sys
import xml.etree.ElementTree as ET


def why(case):
    out = (case.findtext("system-out") or "").strip().splitlines()
    for line in out:
        if line.lstrip().upper().startswith("SKIP"):
            return line.strip()
    if out:
        return out[-1].strip()
    for tag in ("skipped", "disabled"):
        node = case.find(tag)
        if node is not None and node.get("message"):
            return node.get("message")
    return "no reason given"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ctest-skips.py JUNIT_FILE")
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except (OSError, ET.ParseError) as e:
        sys.exit("ctest-skips.py: cannot read %s: %s" % (sys.argv[1], e))
    for case in root.iter("testcase"):
        if case.get("status") in ("notrun", "disabled") or case.find("skipped") is not None:
            print("%s: %s" % (case.get("name"), why(case)[:300]))


if __name__ == "__main__":
    main()
