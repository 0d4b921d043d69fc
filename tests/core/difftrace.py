"""A scripted session through the core whose output trace must be identical on
CPython and on the MicroPython unix port (tests/host/test_differential.py).

Run directly under MicroPython (`micropython tests/core/difftrace.py`) it prints the
trace, one line per tick: t, state, phase, rate, window, enable, target, angle, fault.
"""



def trace(emit=None):
    """The trace lines; with emit given, each line is passed to it instead of kept."""
    from rig import Rig
    from signals import SW_DOWN, SW_START
    from states import C_ACK, C_ESTOP, C_GOTO, C_HOLD, C_RETURN, C_START

    rig = Rig(angle_mdeg=12345)
    lines = []
    if emit is None:
        emit = lines.append
    script = {
        60: lambda r: r.core.command(C_RETURN),  # recovery: one deliberate command
        3000: lambda r: r.core.command(C_GOTO, 27500),
        4500: lambda r: r.core.command(C_GOTO, -10000),  # re-plan mid-move, reversing
        6000: lambda r: r.core.command(C_HOLD, 4000),
        6500: lambda r: setattr(r.plant, "buttons", SW_DOWN),
        6900: lambda r: setattr(r.plant, "buttons", 0),
        8000: lambda r: r.core.command(C_ESTOP),
        9500: lambda r: r.core.command(C_ACK),
        9600: lambda r: r.core.command(C_START),
        10000: lambda r: setattr(r.plant, "imu_error", 110),
        10400: lambda r: setattr(r.plant, "imu_error", 0),
        11000: lambda r: setattr(r.plant, "buttons", SW_START),
        11020: lambda r: setattr(r.plant, "buttons", 0),
    }
    for i in range(12000):
        if i in script:
            script[i](rig)
        rig.tick()
        c = rig.core
        o = rig.out
        emit(
            "%d %d %d %d %d %d %d %d %d %d"
            % (rig.t_ms, c.state, c.phase, o.rate_sps, o.limit_lo, o.limit_hi,
               1 if o.enable else 0, c.target_mdeg, c.angle_mdeg, c.fault)
        )
    return lines


if __name__ == "__main__":
    import sys

    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    sys.path.insert(0, here + "/../../firmware")
    sys.path.insert(0, here)
    trace(print)
