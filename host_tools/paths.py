"""Where things are - in a checkout or in an installed package - and making firmware/
importable on CPython.

In a checkout, everything is where the repository has it and the tools write to its
build/. Installed (`pip install .`), the firmware, the scenarios and the table's
parameters travel inside the package, under host_tools/_data (pyproject.toml), and the
tools write to build/ in the current directory, as the make targets do in a checkout.
"""

import os
import sys

_PKG = os.path.dirname(os.path.abspath(__file__))
_DATA = os.path.join(_PKG, "_data")
INSTALLED = os.path.isdir(os.path.join(_DATA, "firmware"))
ROOT = _DATA if INSTALLED else os.path.dirname(_PKG)
FIRMWARE = os.path.join(ROOT, "firmware")
HARDWARE = os.path.join(ROOT, "hardware")
SCENARIOS = os.path.join(ROOT, "scenarios")
BUILD = os.path.join(os.getcwd() if INSTALLED else ROOT, "build")
TABLE_PARAMS = os.path.join(HARDWARE, "table_params.json")
SHIMS = os.path.join(_PKG, "cpython_shims")
MPY_BOARD = os.path.join(_PKG, "mpy_board")


def use_firmware():
    """Put firmware/ (and the micropython shim) on sys.path, as the board's / is."""
    for p in (FIRMWARE, SHIMS):
        if p not in sys.path:
            sys.path.insert(0, p)


def tool(name):
    """How to start the tool NAME here: its console script when installed
    (inversion-console), else `python -m host_tools.NAME`."""
    return "inversion-" + name if INSTALLED else "python -m host_tools." + name


def prog(module):
    """The name a tool's usage shows: the console script it was started as
    (inversion-sim), else `python -m host_tools.NAME`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("inversion-") else "python -m " + module


def write_or_print(text, path=None):
    """A generator's output (make hardware): to path, saying so, or to stdout."""
    if path:
        with open(path, "w") as f:
            f.write(text)
        print("wrote %s" % path)
    else:
        sys.stdout.write(text)
