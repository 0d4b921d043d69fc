"""A test rig for the control core: the Core plus a simple kinematic stand-in of the table.

The stand-in moves exactly as the emitted steps say (no inertia, no lost steps) within
the dead-man window, produces the ideal IMU sample of its angle with a small
deterministic dither (a real sensor is never perfectly still), and the switch bits of
its position. Pure integer code with no allocation per tick, so the same rig runs on
CPython and on the MicroPython unix port, and the allocation tests can wrap it.
"""

import faults
from control import Core
from estimator import sample_for_angle_into
from kinematics import make_kinematics
from profiles import default_profile
from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL, Inputs, Outputs
from support import make_config

TICK_MS = 10


def add_acc_offsets(inp, axis, off_s, off_c):
    """Add zero-g offsets to the in-plane axes of a sample (estimator.py's acc_s, acc_c)."""
    if axis == 0:
        inp.acc_y_mg += off_s
        inp.acc_z_mg += off_c
    elif axis == 1:
        inp.acc_x_mg -= off_s
        inp.acc_z_mg += off_c
    else:
        inp.acc_x_mg += off_s
        inp.acc_y_mg += off_c


def lcg30(seed):
    """(seed * 1103515245 + 12345) & 0x3FFFFFFF for 0 <= seed < 2**30, in 15-bit halves:
    on a 32-bit MicroPython a small int holds 31 bits, and the plain product would
    allocate a long int every tick."""
    sh = seed >> 15
    sl = seed & 0x7FFF
    # the multiplier mod 2**30 is 29773421 = 908 * 2**15 + 20077
    p = sl * 20077 + 12345  # < 2**30
    hi = ((sh * 20077) & 0x7FFF) + ((sl * 908) & 0x7FFF) + (p >> 15)
    return ((hi & 0x7FFF) << 15) | (p & 0x7FFF)


class Plant:
    def __init__(self, cfg, angle_mdeg):
        self.cfg = cfg
        self.kin = make_kinematics(cfg)
        self.base = self.kin.steps_from_mdeg(angle_mdeg)  # table steps at count 0
        self.count = 0  # emitted steps (the hardware counter)
        self.rate_mdeg_s = 0
        self.buttons = 0  # SW_UP/SW_DOWN/SW_START bits held
        self.estop = False
        self.estop_edges = 0
        self.home_disconnected = False  # the home switch never reads active
        self.home_moved_mdeg = 0  # the switch's bracket moved since commissioning (+: head-down)
        self.imu_error = 0
        self.imu_bias_mdeg = 0  # the IMU reads this much deeper than the truth
        # zero-g offsets of the accelerometer's in-plane axes, mg (estimator.py: acc_s,
        # acc_c): an error that depends on the angle, unlike imu_bias_mdeg
        self.acc_off_s_mg = 0
        self.acc_off_c_mg = 0
        self.force_switches = 0  # switch bits forced active (a failed or noisy switch)
        self.lag_steps = 0  # steps emitted that the table did not follow (lost)
        self._acc_ms = 0  # sub-step remainder, step*ms
        self._seed = 12345

    def angle_mdeg(self):
        return self.kin.mdeg_from_steps(self.base + self.count - self.lag_steps)

    def fill(self, inp):
        a = self.angle_mdeg()
        sample_for_angle_into(inp, a + self.imu_bias_mdeg, self.rate_mdeg_s, self.cfg)
        self._seed = lcg30(self._seed)
        inp.acc_z_mg += (self._seed >> 20) & 3  # 0..3 mg and 0..7 mdps of dither
        if self.acc_off_s_mg or self.acc_off_c_mg:
            add_acc_offsets(inp, self.cfg.imu_axis, self.acc_off_s_mg, self.acc_off_c_mg)
        inp.gyro_x_mdps += (self._seed >> 16) & 7
        inp.imu_error = self.imu_error
        sw = self.buttons | self.force_switches
        if self.estop:
            sw |= SW_ESTOP
        if a <= self.cfg.home_switch_mdeg + self.home_moved_mdeg and not self.home_disconnected:
            sw |= SW_HOME
        if a >= self.cfg.overtravel_mdeg:
            sw |= SW_OVERTRAVEL
        inp.switches = sw
        inp.step_count = self.count
        inp.estop_edges = self.estop_edges

    def apply(self, out, dt_ms):
        before = self.angle_mdeg()
        if out.enable and out.rate_sps != 0:
            self._acc_ms += out.rate_sps * dt_ms
            n = self._acc_ms // 1000 if self._acc_ms >= 0 else -((-self._acc_ms) // 1000)
            self._acc_ms -= n * 1000
            c = self.count + n
            if c > out.limit_hi:
                c = out.limit_hi
            if c < out.limit_lo:
                c = out.limit_lo
            self.count = c
        else:
            self._acc_ms = 0
        self.rate_mdeg_s = (self.angle_mdeg() - before) * 1000 // dt_ms


class Rig:
    def __init__(self, angle_mdeg=None, consent=True, cfg=None, estop=False,
                 config_fault=faults.NONE, **cfg_overrides):
        self.cfg = cfg if cfg is not None else make_config(**cfg_overrides)
        self.profile = default_profile("test", self.cfg)
        self.profile.consent = consent
        if angle_mdeg is None:
            angle_mdeg = self.cfg.loading_angle_mdeg
        self.plant = Plant(self.cfg, angle_mdeg)
        self.plant.estop = estop
        self.core = Core(self.cfg, self.profile, config_fault=config_fault)
        self.inp = Inputs()
        self.out = Outputs()
        self.t_ms = 0
        self.core.boot(0, 1)

    def tick(self, n=1):
        core = self.core
        plant = self.plant
        inp = self.inp
        out = self.out
        for _ in range(n):
            plant.fill(inp)
            core.tick(self.t_ms, inp, out)
            plant.apply(out, TICK_MS)
            self.t_ms = (self.t_ms + TICK_MS) & 0x3FFFFFFF

    def run_until(self, predicate, max_ms):
        """Tick until predicate(rig) holds; returns the ms it took, or fails."""
        waited = 0
        while not predicate(self):
            if waited >= max_ms:
                raise AssertionError("condition not reached in %d ms (state %d, angle %d)"
                                     % (max_ms, self.core.state, self.plant.angle_mdeg()))
            self.tick()
            waited += TICK_MS
        return waited

    def state_is(self, st):
        return self.run_until(lambda r: r.core.state == st, 600000)

    def boot(self):
        """Run the power-on self-test window (long enough to catch a frozen sensor)."""
        self.tick((self.cfg.frozen_samples + 5) * self.cfg.tick_ms // TICK_MS + 10)

    def ready_homed(self):
        """Boot at the loading position and home (what the first motion command does)."""
        from states import C_HOME, READY

        self.boot()
        assert self.core.state == READY, self.core.state
        assert self.core.command(C_HOME) == 0
        self.run_until(lambda r: r.core.state == READY, 60000)
        assert self.core.homed
        assert self.core.fault == faults.NONE

    def events(self, code):
        """All logged events with this code, oldest first."""
        log = self.core.log
        return [e for e in log.since(0) if e[1] == code]


def run_heavy(r, ms, up_max_mdeg_s, down=False, until=None):
    """Tick up to ms with a heavy load: the table follows head-up steps only up to
    up_max_mdeg_s (0: never) and, if down, no head-down steps at all; stop early once
    until(r) holds. Returns the deepest true angle seen."""
    p = r.plant
    deepest = p.angle_mdeg()
    # steps per tick the drive still moves the table head-up
    up_max = (p.kin.steps_from_mdeg(up_max_mdeg_s) - p.kin.steps_from_mdeg(0)) * TICK_MS // 1000
    for _ in range(ms // TICK_MS):
        c0 = p.count
        a0 = p.angle_mdeg()
        r.tick()
        d = p.count - c0
        if d < 0 and -d > up_max:
            p.lag_steps += d  # head-up too fast for the load: none of them moved the table
        elif d > 0 and down:
            p.lag_steps += d
        a = p.angle_mdeg()
        p.rate_mdeg_s = (a - a0) * 1000 // TICK_MS  # the gyro sees the table, not the steps
        if a > deepest:
            deepest = a
        if until is not None and until(r):
            break
    return deepest
