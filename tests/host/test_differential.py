"""The same scripted input sequence gives identical output traces on CPython and on the
MicroPython unix port: the integer core computes bit for bit the same thing on both."""

import os
import subprocess
import sys

import difftrace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def test_trace_is_identical_on_both_interpreters():
    cpython = difftrace.trace()
    out = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=1M", os.path.join(ROOT, "tests/core/difftrace.py")],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout.splitlines()
    assert len(out) == len(cpython) == 12000
    for i, (a, b) in enumerate(zip(cpython, out)):
        assert a == b, "tick %d differs:\n  cpython     %s\n  micropython %s" % (i, a, b)
    # the script really exercised the machine: several states, motion, a fault
    states = {line.split()[1] for line in cpython}
    assert len(states) >= 6, states
    assert any(line.split()[9] != "0" for line in cpython)
