"""pytest setup: firmware/ and the core test helpers importable exactly as on the board."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from host_tools.paths import use_firmware  # noqa: E402

use_firmware()
sys.path.insert(0, os.path.join(HERE, "core"))
