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
    """The configuration the board would build: defaults + hardware file + overrides, on a
    commissioned table (imu_calibrated: the two-point calibration done, issue #18)."""
    cfg = Config()
    load_hardware(cfg, TABLE_PARAMS)
    cfg.update({"imu_calibrated": 1})
    if overrides:
        cfg.update(overrides)
    return cfg


def dv_of(amax, dt):
    dv = amax * dt // 1000
    return dv if dv > 0 else 1


class Checker:
    """Per-tick invariants of a profile: speed, change of speed, position vs speed."""

    def __init__(self, p):
        self.p = p
        self.v = p.vel_sps
        self.pos = p.pos
        self.ticks = 0

    def step(self, dt, vmax, amax):
        p = self.p
        p.update(dt)
        v = p.vel_sps
        dv = dv_of(amax, dt)
        assert abs(v - self.v) <= dv, (self.v, v, dv)
        if abs(self.v) <= vmax:
            assert abs(v) <= vmax, (v, vmax)
        else:
            assert abs(v) < abs(self.v), (self.v, v)  # above a lowered vmax: braking
        # position moves by v*dt (floor to steps; the landing tick absorbs < 1 sps*tick)
        assert abs((p.pos - self.pos) * 1000 - v * dt) < 1000 + dt, (p.pos, self.pos, v)
        self.v = v
        self.pos = p.pos
        self.ticks += 1


def soak():
    """True under SOAK=1 (make soak): sweeps then run at full size. Reads the environment
    on CPython and the unix port; the WebAssembly port has no os.getenv, so there it is
    always False (its make target has its own SOAK switch)."""
    try:
        import os
    except ImportError:
        return False
    getenv = getattr(os, "getenv", None)
    return getenv is not None and getenv("SOAK") == "1"
