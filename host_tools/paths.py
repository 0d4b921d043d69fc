"""Where things are in the repository, and making firmware/ importable on CPython."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
HARDWARE = os.path.join(ROOT, "hardware")
BUILD = os.path.join(ROOT, "build")
TABLE_PARAMS = os.path.join(HARDWARE, "table_params.json")
SHIMS = os.path.join(ROOT, "host_tools", "cpython_shims")


def use_firmware():
    """Put firmware/ (and the micropython shim) on sys.path, as the board's / is."""
    for p in (FIRMWARE, SHIMS):
        if p not in sys.path:
            sys.path.insert(0, p)
