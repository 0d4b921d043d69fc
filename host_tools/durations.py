"""tests/durations.json from a pytest run's per-test CPU lines (tests/conftest.py writes
them under TEST_CPU_OUT): the costs conftest deals the tests to the xdist workers by.

    python -m host_tools.durations PREFIX   (reads PREFIX.*, writes tests/durations.json)
"""

import glob
import json
import os
import sys

from host_tools.paths import ROOT

OUT = os.path.join(ROOT, "tests", "durations.json")
MIN_S = 0.1  # cheaper tests are left out: conftest counts them DEFAULT_COST_S


def collect(prefix):
    costs = {}
    for path in glob.glob(glob.escape(prefix) + ".*"):
        with open(path) as f:
            for line in f:
                cpu, nodeid = line.rstrip("\n").split("\t", 1)
                costs[nodeid] = costs.get(nodeid, 0.0) + float(cpu)
    return {k: round(v, 1) for k, v in sorted(costs.items()) if v >= MIN_S}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    costs = collect(argv[0])
    if not costs:
        print("no per-test CPU lines under %s.*" % argv[0], file=sys.stderr)
        return 1
    with open(OUT, "w") as f:
        json.dump(costs, f, indent=0, sort_keys=True)
        f.write("\n")
    print("%s: %d tests, %.0f CPU s" % (os.path.relpath(OUT, ROOT), len(costs),
                                       sum(costs.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
