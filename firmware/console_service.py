"""The bring-up commands of the service mode (hardware/bringup.md, one per step).

Owns `drive on|off` (the driver energised at rest, no motion: step 4), `imu` (the raw
accelerometer in mg, the gyro in mdps and the part's WHO_AM_I: step 8), `steps` (the
step count, commanded and counted by the PCNT: steps 6 and 7), `switches` (every
switch and button input as the tick read it: steps 5, 5a and 6) and the console jog
(`jog up|down|stop`, kept going by `keep`: steps 6, 7 and 8), and `freeze <ms>`, which
blocks the loop (steps 6a and 11: the heartbeat's step gate stops the motor within
about 37 ms; longer than the watchdog's timeout, the board resets).

They run only in the service mode's control loop (firmware/bringup.py: App(board,
service=True)) with a therapist session. Everything that moves goes through
core.command(): the jog is the core's keep-alive jog (firmware/commands.py: it stops
within one tick once no `keep` came for 200 ms), with the clamp, the commissioning
check, the e-stop latch, the faults and the child lock as for the buttons. Imported
on demand by firmware/console.py, so the normal firmware's heap never holds it.
"""

import states
from cmdparse import ParseError, fmt_milli
from signals import (
    SW_ANKLE_LOCK,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)
from ticks import ticks_add

# (name, bit) of every input `switches` shows, logical: 1 = active (signals.py: the
# e-stop circuit open, a limit switch actuated, a button pressed). The key switch is in
# series with DOWN and START (hardware/bringup.md step 1): key out, they read released.
SWITCHES = (
    ("estop_open", SW_ESTOP),
    ("home", SW_HOME),
    ("overtravel", SW_OVERTRAVEL),
    ("ankle_lock_open", SW_ANKLE_LOCK),
    ("up", SW_UP),
    ("down", SW_DOWN),
    ("start", SW_START),
)
_JOGS = {"up": states.C_JOG_UP, "down": states.C_JOG_DOWN, "stop": states.C_JOG_RELEASE}


def _allowed(con):
    if not con.view.service:
        raise ParseError("bring-up commands run only in the service mode: maintenance "
                         "<pin>, then `import bringup` at its prompt (README: Service mode)")
    con.need_therapist()


def drive(con, how):
    _allowed(con)
    on = how == "on"
    if con.core(states.C_DRIVE_HOLD, 1 if on else 0):
        con.out.ok("ok drive: %s" % ("on, holding, no motion" if on else "off"),
                   {"drive_hold": on})


def imu(con):
    _allowed(con)
    inp = con.view.inputs()
    part = con.view.imu_part()
    who = getattr(part, "who_am_i", None) if part is not None else None
    con.out.ok(None, pairs=(
        ("acc_x_mg", inp.acc_x_mg),
        ("acc_y_mg", inp.acc_y_mg),
        ("acc_z_mg", inp.acc_z_mg),
        ("gyro_x_mdps", inp.gyro_x_mdps),
        ("gyro_y_mdps", inp.gyro_y_mdps),
        ("gyro_z_mdps", inp.gyro_z_mdps),
        ("imu_error", inp.imu_error),
        ("who_am_i", "0x%02x" % who if who else "unknown"),
    ))


def steps(con):
    _allowed(con)
    view = con.view
    cmd, counted, angle = view.step_counts()
    con.out.ok(None, pairs=(
        ("commanded_steps", cmd),
        ("pcnt_steps", counted),
        ("difference_steps", cmd - counted),
        ("steps_angle_mdeg", angle),
        ("homed", bool(view.homed())),
    ))


def switches(con):
    _allowed(con)
    sw = con.view.inputs().switches
    con.out.ok(None, pairs=tuple([(n, bool(sw & bit)) for n, bit in SWITCHES]))


def jog(con, how):
    _allowed(con)
    # b = 1: the console's jog, which the core keeps only while `keep` arrives
    if con.core(_JOGS[how], 0, 1):
        st = con.view.state()
        con.out.ok("ok jog %s: %s, target %s deg; send `keep` at least every 200 ms"
                   % (how, states.STATE_NAMES[st], fmt_milli(con.view.target_mdeg()))
                   if how != "stop" else "ok jog stop",
                   {"state": states.STATE_NAMES[st], "target_mdeg": con.view.target_mdeg()})


def keep(con):
    _allowed(con)
    if con.core(states.C_JOG_KEEP):
        con.out.ok("ok keep", {})


def freeze(con, ms):
    """Block the loop for ms: no tick, no heartbeat, no watchdog feed meanwhile. The
    hardware's answers are the test (the step gate, the dead-man window, the watchdog)."""
    _allowed(con)
    board = con.board
    board.wait_until(ticks_add(board.ticks_ms(), ms))
    con.out.ok("ok freeze: the loop stood still for %d ms" % ms, {"freeze_ms": ms})
