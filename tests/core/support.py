"""Helpers for the core tests. Runs on CPython (pytest) and on the MicroPython unix port.

No pytest here: plain functions and asserts, so tests/mpy_runner.py can run the same files.
"""

from config import Config, load_hardware

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
TABLE_PARAMS = _HERE + "/../../hardware/table_params.json"


def raises(exc_type, fn, *args):
    """Call fn(*args); return the exception if it is exc_type, fail if nothing is raised."""
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % exc_type.__name__)


def make_config(**overrides):
    """The configuration the board would build: defaults + hardware file + overrides."""
    cfg = Config()
    load_hardware(cfg, TABLE_PARAMS)
    if overrides:
        cfg.update(overrides)
    return cfg
