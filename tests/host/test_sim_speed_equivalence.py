"""The simulator's fast paths change nothing but the speed.

SimBoard skips the milliseconds at rest and steps a moving table without the per-ms
switch bookkeeping when no ms_hooks are registered (host_tools/simboard.py, _run), with
the physics stepped many milliseconds in one call (TablePhysics.advance), stopping only
where a call_at() call is due; the physics keeps the true angle's per-ms statistics
itself (TablePhysics.watch), so scenario runs need no per-ms hook; the switches
sample only what can change (switches_model.py); the IMU model draws its noise ahead in
blocks (GaussBlocks, imu_model.py); the board skips a
step-generator command that repeats the one in force. Each is checked here against the
plain path it replaces, bit for bit: the same firmware inputs every tick, the same true
angle to the last bit, the same rng streams afterwards.

- sessions of the real firmware with random events (console commands, buttons, e-stop,
  wire cuts, spikes, noise, IMU faults with bus timeouts, power cuts, resets, crashes,
  hangs, a user load changed mid-rest), fast_forward on and off;
- call_at() calls and the true angle's statistics, against per-ms hooks doing the same;
- scenario runs (e-stop, power cuts, lost steps, switch noise, a run ending with the
  power off), fast_forward on and off: the same trace, events, results and statistics;
- the physics alone: run(ms) and advance() against ms calls of step(), and rest ending
  on any change;
- the switches: the quiet sample against a full sample every ms;
- the IMU: draws from blocks against rng.gauss.
"""

import os
import random

import pytest
from signals import SW_DOWN, SW_ESTOP, SW_HOME, SW_OVERTRAVEL, SW_START, SW_UP, Inputs, Outputs

from host_tools import imu_model, params, physics, scenario
from host_tools.imu_model import FakeI2C, Mpu6050Model
from host_tools.paths import ROOT
from host_tools.runner import SimRunner
from host_tools.simboard import BoardReset, SimBoard
from host_tools.switches_model import Switches

P = params.load()
WIDE = 10**9
# _driven_board's random rates were chosen in table terms on a drive of 4/3 steps per
# mdeg (up to 9 deg/s); scaled to the drive of table_params.json they still lose steps
# and go head-down whatever its resolution (the same random draws either way).
_RATE_SCALE = (P.drive.motor_steps_per_rev * P.drive.microsteps * P.drive.gear_ratio
               / 360000.0) / (4.0 / 3.0)
COMMANDS = ("goto 20", "goto 35", "goto -10", "goto 5", "stop", "return", "estop", "ack",
            "program custom", "start 25 4", "program beginner", "start", "home", "hold 3",
            "status", "consent yes", "discomfort")


class _Session:
    """The firmware on a board, with events drawn from their own seeded stream."""

    def __init__(self, tmp_path, seed, fast, ticks_at_boot=0):
        self.board = b = SimBoard(rng=random.Random(seed), fs_root=str(tmp_path),
                                  ticks_at_boot=ticks_at_boot,
                                  angle_mdeg=None if seed % 3 else 0)
        b.fast_forward = fast
        b.i2c.timeout_delay_ms = 25  # a stuck bus blocks: the board advances meanwhile
        self.steps = 0
        step = b.physics.step

        def counted():
            self.steps += 1
            return step()

        b.physics.step = counted
        self.runner = SimRunner(board=b)
        self.ev = random.Random(seed * 7919 + 1)
        self.release_at = {}
        self.rows = []

    def event(self):
        b = self.board
        ev = self.ev
        r = ev.random()
        if r < 0.25:
            self.runner.send(ev.choice(COMMANDS))
        elif r < 0.40:
            button = ev.choice(("UP", "DOWN", "START"))
            b.press(button)
            self.release_at[button] = b.now_ms + ev.choice((30, 200, 1600))
        elif r < 0.47:
            ev.choice((b.estop_press, b.estop_release, b.estop_cut_wire,
                       b.estop_repair_wire))()
        elif r < 0.53:
            b.switch_spike(ev.choice((SW_ESTOP, SW_HOME, SW_OVERTRAVEL, SW_UP | SW_DOWN)))
        elif r < 0.57:
            b.switch_spike_rate = 0.0 if b.switch_spike_rate else 0.002
        elif r < 0.65:
            b.imu_fault(ev.choice(imu_model.FAULTS), ev.random() < 0.4)
        elif r < 0.69:
            b.power_cut(off_ms=ev.randint(0, 400))
        elif r < 0.72:
            ev.choice((b.hard_reset, b.soft_reset))()
        elif r < 0.75:
            def boom(*_args):
                raise RuntimeError("injected crash")

            self.runner.core.tick = boom
        elif r < 0.80:
            b.advance(ev.randint(1, 120))  # the main loop hangs; the world goes on
        elif r < 0.85:
            ph = b.physics  # a heavier or lighter user, as scenario user_load does
            twin = physics.TablePhysics(P, ev.choice((40, 80, 150)), ph.user_height_mm,
                                        ev.choice((-100, 20, 250)), 0)
            ph.inertia_kgm2 = twin.inertia_kgm2
            ph.gravity_moment_Nm = twin.gravity_moment_Nm
        else:
            b.imu_fault("timeout", False)
            b.imu_fault("no_response", False)

    def run(self, ticks, p_event):
        b = self.board
        for _ in range(ticks):
            for button, at in list(self.release_at.items()):
                if b.now_ms >= at:
                    b.release(button)
                    del self.release_at[button]
            if self.ev.random() < p_event:
                self.event()
            self.runner.step()
            self.rows.append(self.row())
        return self

    def row(self):
        b = self.board
        app = self.runner.app
        i = app.inputs
        o = app.outputs
        ph = b.physics
        return (b.now_ms, b.ticks_ms(), app.core.state, i.switches, i.estop_edges, i.step_count,
                i.acc_x_mg, i.acc_y_mg, i.acc_z_mg, i.gyro_x_mdps, i.gyro_y_mdps, i.gyro_z_mdps,
                i.imu_error, o.rate_sps, o.limit_lo, o.limit_hi, o.enable, b.led, b.buzzer,
                ph.theta.hex(), ph.omega.hex(), ph.lost_steps, ph.drive_steps,
                ph.stepgen.count, ph.time_ms, b.switches.bits, b._estop_edges, len(b.resets),
                b.imu.reads)

    def final(self):
        b = self.board
        ph = b.physics
        return (b.switches._rng.getstate(), b.imu._rng.getstate(), bytes(b.imu.regs),
                b.indicator_log, b.resets, b.host_receive(), ph._rest_key(),
                b.switches.physical_bits(), self.runner.reset_causes,
                _stats(ph))


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_fast_path_gives_the_same_session(tmp_path, seed):
    ticks_at_boot = (1 << 30) - 2500 if seed == 4 else 0  # ticks_ms wraps in the run
    exact = _Session(tmp_path / "exact", seed, False, ticks_at_boot).run(3000, 0.02)
    fast = _Session(tmp_path / "fast", seed, True, ticks_at_boot).run(3000, 0.02)
    assert len(exact.rows) == len(fast.rows)
    for a, b in zip(exact.rows, fast.rows):
        assert a == b
    assert exact.final() == fast.final()
    assert exact.steps == exact.board.now_ms  # the plain path steps every ms


def test_fast_path_skips_the_milliseconds_at_rest(tmp_path):
    # a quiet session: boot, home, stand READY (driver off), a short move and a hold
    exact = _Session(tmp_path / "exact", 5, False).run(1500, 0.0)
    fast = _Session(tmp_path / "fast", 5, True)
    fast.run(1500, 0.0)
    assert fast.rows == exact.rows
    assert fast.steps < fast.board.now_ms / 4  # most of the time the table stood still


@pytest.mark.parametrize("start_mdeg,rate_sps", [
    (P.frame.overtravel_mdeg - 3000, 3000),  # into the over-travel switch and its STEP gate
    (P.frame.home_switch_mdeg + 3000, -3000),  # onto the loading switch
])
def test_limit_switch_crossings_inside_a_block(tmp_path, start_mdeg, rate_sps):
    def run(fast):
        b = SimBoard(rng=random.Random(6), fs_root=str(tmp_path / str(fast)),
                     angle_mdeg=start_mdeg)
        b.fast_forward = fast
        out = Outputs()
        out.limit_lo, out.limit_hi, out.enable = -WIDE, WIDE, True
        chunks = random.Random(7)
        inp = Inputs()
        rows = []
        for i in range(400):
            out.rate_sps = rate_sps if i < 250 else -rate_sps // 2
            b.apply_outputs(out)
            b.wait_until(b.ticks_add(b.ticks_ms(), chunks.randint(1, 40)))
            b.read_inputs(inp)
            rows.append((b.now_ms, inp.switches, inp.step_count, inp.acc_x_mg, b.lost_steps,
                         b.physics.theta.hex(), b.switches.contact_open(SW_OVERTRAVEL)))
        return rows, b.switches._rng.getstate(), b.imu._rng.getstate()

    exact = run(False)
    assert any(r[1] & (SW_OVERTRAVEL | SW_HOME) for r in exact[0])
    assert any(not r[1] & (SW_OVERTRAVEL | SW_HOME) for r in exact[0])
    assert run(True) == exact


def test_ms_hooks_still_see_every_millisecond(tmp_path):
    b = SimBoard(rng=random.Random(1), fs_root=str(tmp_path))
    seen = []
    b.ms_hooks.append(lambda brd: seen.append(brd.now_ms))
    b.advance(30)
    b.wait_until(b.ticks_add(b.ticks_ms(), 20))
    assert seen == list(range(1, 51))


# ------------------------------------------------------------------ call_at, statistics


def _stats(ph):
    return (ph.max_angle_mdeg.hex(), ph.max_angle_ms, ph.min_angle_mdeg.hex(), ph.min_angle_ms,
            ph.above_ms, ph.first_lost_ms)


class _HookStats:
    """The true angle's statistics as a per-ms hook measures them (the oracle of
    TablePhysics.watch), from the board's state when registered."""

    def __init__(self, board, above_mdeg):
        self.above_mdeg = above_mdeg
        self.max = self.min = board.true_angle_mdeg
        self.max_t = self.min_t = board.now_ms
        self.above = 0
        self.first_lost = None

    def __call__(self, b):
        a = b.physics.theta * physics.RAD_TO_MDEG
        if a > self.max:
            self.max, self.max_t = a, b.now_ms
        if a < self.min:
            self.min, self.min_t = a, b.now_ms
        if a > self.above_mdeg:
            self.above += 1
        if self.first_lost is None and b.physics.lost_steps:
            self.first_lost = b.now_ms

    def stats(self):
        return (self.max.hex(), self.max_t, self.min.hex(), self.min_t, self.above,
                self.first_lost)


def _driven_board(tmp_path, seed, mode):
    """A heavy user moved by random step commands (lost steps, both directions, rest),
    with calls at random times that cut and restore the power, press buttons and
    schedule more calls. mode: "fast", "exact" (fast_forward off) or "hook" (the
    statistics from a per-ms hook). Returns what the calls and the end saw."""
    b = SimBoard(rng=random.Random(seed), fs_root=str(tmp_path / mode), angle_mdeg=0,
                 user_mass_kg=120, user_com_offset_mm=100)
    b.fast_forward = mode != "exact"
    above = 3000
    b.physics.watch(above)
    hook = None
    if mode == "hook":
        hook = _HookStats(b, above)
        b.ms_hooks.append(hook)
    ev = random.Random(seed + 1)
    seen = []

    def call(kind):
        def fn(brd):
            seen.append((kind, brd.now_ms, brd.physics.theta.hex(), brd.switches.bits,
                         brd.powered, brd.imu._t_ms, _stats(brd.physics)))
            if kind == "cut":
                brd.power_cut()  # no restore scheduled: the "restore" call brings it back
                brd.call_at(brd.now_ms + ev.randint(1, 300), call("restore"))
            elif kind == "restore":
                brd.power_restore()
            elif kind == "press":
                brd.press("UP")
                brd.call_at(brd.now_ms + 40, call("release"))
            elif kind == "release":
                brd.release("UP")
            elif kind == "again":
                brd.call_at(brd.now_ms - 5, call("past"))  # runs after the next ms
        return fn

    t = 0
    for _ in range(40):
        t += ev.randint(0, 400)
        b.call_at(t + ev.choice((0, 0.5)), call(ev.choice(("cut", "press", "again", "note"))))
    out = Outputs()
    out.limit_lo, out.limit_hi, out.enable = -WIDE, WIDE, True
    for _ in range(300):
        if ev.random() < 0.2:
            out.rate_sps = int(_RATE_SCALE * ev.choice(
                (0, 0, ev.randint(-12000, 12000), ev.randint(-3000, 3000))))
            out.enable = ev.random() < 0.85
        b.apply_outputs(out)
        try:
            b.wait_until(b.ticks_add(b.ticks_ms(), ev.randint(1, 60)))
        except BoardReset:
            pass
    ph = b.physics
    end = (b.now_ms, ph._rest_key(), b.switches._rng.getstate(), b.resets)
    return seen, end, (hook.stats() if hook else _stats(ph)), ph.lost_steps


@pytest.mark.parametrize("seed", [0, 2, 5, 11])  # each loses steps and goes head-down
def test_calls_and_statistics_are_those_of_per_ms_hooks(tmp_path, seed):
    fast = _driven_board(tmp_path, seed, "fast")
    assert fast == _driven_board(tmp_path, seed, "exact")
    seen, end, stats, lost = _driven_board(tmp_path, seed, "hook")
    assert (seen, end, stats) == fast[:3]
    kinds = {s[0] for s in seen}
    assert {"cut", "restore", "press", "release", "past"} <= kinds
    assert lost > 0 and stats[5] is not None and stats[4] > 0  # lost steps, head-down ms


@pytest.mark.parametrize("fast", [True, False])
def test_a_call_runs_after_its_millisecond(tmp_path, fast):
    b = SimBoard(rng=random.Random(2), fs_root=str(tmp_path))
    b.fast_forward = fast
    seen = []
    b.call_at(250, lambda brd: seen.append(("a", brd.now_ms)))
    b.call_at(100.5, lambda brd: seen.append(("b", brd.now_ms)))  # the first ms >= it
    b.call_at(250, lambda brd: brd.call_at(0, lambda br: seen.append(("c", br.now_ms))))
    b.advance(300)
    b.call_at(10, lambda brd: seen.append(("d", brd.now_ms)))  # past: after the next ms
    b.advance(5)
    assert seen == [("b", 101), ("a", 250), ("c", 250), ("d", 301)]
    assert b.now_ms == 305


# ------------------------------------------------------------------ scenario runs


def _scenario_run(load, fast, count_steps=False):
    """One scenario run (load() gives a fresh Scenario: a run marks its events fired),
    fast_forward on or off; everything it produced, apart from wall times."""
    sc = load()
    run = scenario._Run(sc)
    run.build()
    b = run.board
    b.fast_forward = fast
    steps = [0]
    if count_steps:
        step = b.physics.step

        def counted():
            steps[0] += 1
            return step()

        b.physics.step = counted
    res = run.go()
    stats = dict(res.stats)
    del stats["wall_s"], stats["factor"]
    rec = run.recorder
    ph = b.physics
    out = {
        "rows": rec.rows, "events": rec.events, "fw_log": rec.fw_log, "console": res.console,
        "failures": res.failures, "error": repr(res.error), "stats": stats,
        "world": (ph.max_angle_mdeg.hex(), ph.max_angle_ms, ph.min_angle_mdeg.hex(),
                  ph.min_angle_ms, ph.above_ms, ph.first_lost_ms),
        "fired": [(ev.index, ev.fired_ms) for ev in sc.events],
        "inputs": run.input_times, "anchors": (run.anchor, run.label_anchor),
        "powered": b.powered,
        "board": (b.now_ms, ph.theta.hex(), ph.omega.hex(), ph._rest_key(), b.resets,
                  b.indicator_log, b.switches._rng.getstate(), b.imu._rng.getstate(),
                  run.noise_rng.getstate(), run.runner.reset_causes),
    }
    return out, steps[0]


def _file(name):
    return lambda: scenario.load(os.path.join(ROOT, "scenarios", name))


# A run that ends while the power is off (it stops there), after a user load change and
# with checks; with switch noise on to the end, or off again before the cut.
_ENDS_UNPOWERED = """
name = "ends unpowered"
duration_s = 60
[profile]
consent = true
[program]
name = "beginner"
[[events]]
at_s = 20
switch_noise = {per_s = 40, inputs = ["HOME", "UP"]}
[[events]]
at_s = %s
%s
[[events]]
at_s = 32
user_load = {mass_kg = 130, com_offset_mm = 120}
[[events]]
at_s = 40
power_cut = true
[[checks]]
at_s = 45
state = "OFF"
[[checks]]
at_s = 59.999
min_true_angle_deg = 5
"""


def _text(*fill):
    return lambda: scenario.parse(_ENDS_UNPOWERED % fill, "<test>")


# Each load once (the fast-path runs are shared by identity, see _fast_run).
_LOADS = {name: _file(name + ".toml") for name in (
    "estop_at_depth",  # e-stop, checks
    "power_cut_start_recovers", "power_cut_inverted", "heavy_offcentre_runaway",
    "switch_noise")}
_LOADS["ends_unpowered"] = _text(25, 'switch_noise = "off"')
_LOADS["ends_unpowered_noisy"] = _text(25, 'console = "status"')


@pytest.mark.parametrize("load", [pytest.param(load, id=name) for name, load in _LOADS.items()])
def test_scenario_runs_are_the_same_on_the_fast_path(load):
    fast = _fast_run(load)
    exact, _ = _scenario_run(load, False)
    for key in exact:
        assert fast[key] == exact[key], key


_FAST_RUNS = {}  # load -> its fast-path run: the test above and the one below share it


def _fast_run(load):
    """_scenario_run(load, True)'s result, run once per pytest process (a run is
    deterministic; about 1 CPU s each). Callers only read it."""
    if load not in _FAST_RUNS:
        _FAST_RUNS[load] = _scenario_run(load, True)[0]
    return _FAST_RUNS[load]


def test_the_scenarios_here_cover_what_they_should():
    def run(load):
        return _fast_run(_LOADS[load])

    estop = run("estop_at_depth")
    assert any(e[2] == "estop" for e in estop["events"]) and not estop["failures"]
    cut = run("power_cut_start_recovers")
    assert cut["board"][4] and cut["stats"]["boots"] == 2
    lost = run("heavy_offcentre_runaway")
    assert lost["stats"]["lost_steps"] > 0 and lost["world"][5] is not None
    noisy = run("ends_unpowered_noisy")
    quiet = run("ends_unpowered")
    for r in (noisy, quiet):  # stopped at the end, the power still off
        assert r["stats"]["sim_ms"] == 60000 and not r["powered"] and not r["failures"], (
            r["failures"])
    assert noisy["rows"] != quiet["rows"]  # the noise was on to the end in one of them


def test_a_scenario_run_takes_the_fast_path():
    fast, steps = _scenario_run(_file("beginner_session.toml"), True, count_steps=True)
    assert not fast["failures"]
    # milliseconds stepped one by one (switch samples and all): a small part of the run
    assert steps < fast["board"][0] / 10


def _commands(rng, t):
    for _ in range(rng.randint(3, 10)):
        rate = rng.choice((0, 0, rng.randint(-12000, 12000), rng.randint(-2000, 2000)))
        lo, hi = (-WIDE, WIDE) if rng.random() < 0.7 else (
            t.stepgen.count - rng.randint(0, 400), t.stepgen.count + rng.randint(0, 400))
        yield rate, lo, hi, rng.random() < 0.8, rng.randint(1, 2500)


@pytest.mark.parametrize("seed", range(8))
def test_physics_run_is_step_after_step(seed):
    rng = random.Random(seed)
    kw = dict(user_mass_kg=rng.choice((40, 80, 150)), user_com_offset_mm=rng.choice((-150, 20,
              300)), angle_mdeg=rng.randint(-60000, 74000))
    a = physics.TablePhysics(P, **kw)
    b = physics.TablePhysics(P, **kw)
    for rate, lo, hi, enable, ms in _commands(rng, a):
        a.stepgen.command(rate, lo, hi, enable)
        b.stepgen.command(rate, lo, hi, enable)
        for _ in range(ms):
            a.step()
        b.run(ms)
        assert a._rest_key() == b._rest_key() and a.time_ms == b.time_ms
        assert (a.theta.hex(), a.omega.hex()) == (b.theta.hex(), b.omega.hex())


def _state(t):
    return (t._rest_key(), t.time_ms, t.theta.hex(), t.omega.hex(), t._x1.hex(), t._x2.hex(),
            t.motor_load_Nm.hex())


def _advance_against_step(seed, seen):
    """advance(k, lo, hi, stop_at_rest) against step() ms by ms, with the same stopping
    rules: after the ms whose angle crosses lo or hi, before a still ms (stop_at_rest).
    Adds to `seen` the regimes the run went through."""
    rng = random.Random(100 + seed)
    kw = dict(user_mass_kg=rng.choice((40, 80, 150)), user_com_offset_mm=rng.choice((-150, 20,
              300)), angle_mdeg=rng.randint(-60000, 74000))
    first = []
    if seed >= 10:  # start next to an end stop, driven into it
        down = seed % 2 == 0
        kw["angle_mdeg"] = (P.frame.stop_head_down_mdeg - 1500 if down
                            else P.frame.stop_head_up_mdeg + 1500)
        first = [(3000 if down else -3000, -WIDE, WIDE, True, 1500)]
    a = physics.TablePhysics(P, **kw)
    b = physics.TablePhysics(P, **kw)
    for rate, lo, hi, enable, ms in first + list(_commands(rng, a)):
        gate = rng.random() < 0.1
        for t in (a, b):
            t.stepgen.command(rate, lo, hi, enable)
            t.stepgen.block_head_down = gate
        left = ms
        while left > 0:
            k = rng.randint(1, left)
            angle = a.true_angle_mdeg
            near = rng.random() < 0.5  # thresholds the table may well cross
            lo_mdeg = angle - rng.uniform(0, 300 if near else 5000)
            hi_mdeg = angle + rng.uniform(0, 300 if near else 5000)
            stop_at_rest = not enable or rate == 0
            n, crossed = b.advance(k, lo_mdeg, hi_mdeg, stop_at_rest)
            j = 0
            still = False
            while j < k:
                if stop_at_rest and a.omega == 0.0:
                    still = True
                    break
                a.step()
                j += 1
                seen.add(("side", a._side))
                if a.stalled:
                    seen.add("stall")
                if a.theta in (a.stop_head_down_rad, a.stop_head_up_rad):
                    seen.add("end stop")
                x = a.true_angle_mdeg
                if (x <= lo_mdeg) != (angle <= lo_mdeg) or (x >= hi_mdeg) != (angle >= hi_mdeg):
                    break
            assert (n, crossed) == (j, j < k and not still)
            assert _state(a) == _state(b)
            if crossed:
                seen.add("crossing")
            if still:
                seen.add("still")
                a.step()  # what the board then does: one ms (it tries for rest)
                b.step()
                n = 1
            left -= n


@pytest.mark.parametrize("seed", range(12))
def test_physics_advance_is_step_after_step(seed):
    _advance_against_step(seed, set())


def test_physics_advance_checks_cover_every_regime():
    seen = set()
    for seed in range(12):
        _advance_against_step(seed, seen)
    assert {("side", -1), ("side", 0), ("side", 1), "stall", "end stop", "still",
            "crossing"} <= seen


def test_repeated_step_command_is_skipped_exactly(tmp_path):
    # SimBoard.apply_outputs skips a command equal to the one in force: the generator
    # ends up exactly as if every command had been given
    b = SimBoard(rng=random.Random(3), fs_root=str(tmp_path), angle_mdeg=0)
    ref = physics.StepGenerator()
    rng = random.Random(4)
    out = Outputs()
    for _ in range(3000):
        if rng.random() < 0.3:
            out.rate_sps = rng.choice((0, 0, 700, -1500, 3000))
            out.limit_lo = rng.choice((-WIDE, ref.count - 5, ref.count))
            out.limit_hi = rng.choice((WIDE, ref.count + 5, ref.count))
            out.enable = rng.random() < 0.7
        b.apply_outputs(out)
        ref.command(out.rate_sps, out.limit_lo, out.limit_hi, out.enable)
        sg = b.physics.stepgen
        for g in (sg, ref):
            g.block_head_down = False
        n = rng.randint(1, 5)
        for _ in range(n):
            sg.tick()
            ref.tick()
        assert (sg.rate_sps, sg.limit_lo, sg.limit_hi, sg.enabled, sg.count, sg._acc) == (
            ref.rate_sps, ref.limit_lo, ref.limit_hi, ref.enabled, ref.count, ref._acc)


def _reference_tick(sg):
    """StepGenerator.tick as first written (clear, slower): the oracle for the fast one."""
    if not sg.enabled or sg.rate_sps == 0:
        return 0
    sg._acc += sg.rate_sps
    n = sg._acc // 1000 if sg._acc >= 0 else -((-sg._acc) // 1000)
    if n == 0:
        return 0
    sg._acc -= n * 1000
    count = sg.count
    if n > 0:
        if sg.block_head_down or count + 1 < sg.limit_lo:
            k = 0
        else:
            k = max(0, min(n, sg.limit_hi - count))
    elif count - 1 > sg.limit_hi:
        k = 0
    else:
        k = -max(0, min(-n, count - sg.limit_lo))
    if k != n:
        sg._acc = 0
    sg.count = count + k
    return k


def test_step_generator_matches_its_reference():
    rng = random.Random(11)
    a = physics.StepGenerator()
    b = physics.StepGenerator()
    for _ in range(3000):
        args = (rng.choice((0, rng.randint(-9000, 9000), rng.randint(-1500, 1500))),
                a.count - rng.randint(-5, 60), a.count + rng.randint(-5, 60),
                rng.random() < 0.9)
        a.command(*args)
        b.command(*args)
        a.block_head_down = b.block_head_down = rng.random() < 0.1
        for _ in range(rng.randint(1, 40)):
            assert a.tick() == _reference_tick(b)
            assert (a.count, a._acc) == (b.count, b._acc)


def test_rest_ends_when_anything_changes():
    t = physics.TablePhysics(P, angle_mdeg=0)
    t.stepgen.command(0, 0, 0, False)
    t.run(100)
    assert t.at_rest()  # de-energised, on the self-locking worm
    t.gravity_moment_Nm *= 1.01  # a new user: rest must be proven again
    assert not t.at_rest()
    assert t.step_settled() and t.at_rest()
    t.stepgen.command(1000, -WIDE, WIDE, True)  # a command: it moves
    assert not t.at_rest()
    t.run(500)
    assert t.drive_steps > 0


# ------------------------------------------------------------------ switches


def test_quiet_switches_sample_as_a_full_sample_would():
    def sequence(force_full):
        sw = Switches(P, random.Random(3))
        ev = random.Random(4)
        out = []
        angle = P.frame.home_switch_mdeg + 500.0
        for ms in range(20000):
            r = ev.random()
            if r < 0.004:
                (sw.press if ev.random() < 0.5 else sw.release)(ev.choice(("UP", "DOWN",
                                                                            "START")))
            elif r < 0.006:
                ev.choice((sw.estop_press, sw.estop_release, sw.estop_cut_wire,
                           sw.estop_repair_wire))()
            elif r < 0.007:
                sw.spike(ev.choice((SW_UP, SW_START, SW_ESTOP | SW_HOME)))
            elif r < 0.0075:
                sw.spike_rate = 0.0 if sw.spike_rate else 0.01
            if ms % 7 == 0:  # the table wanders across both limit switches
                angle += ev.choice((-1.0, 1.0)) * ev.random() * 4000
                angle = max(-62000.0, min(78000.0, angle))
            if force_full:
                sw._quiet = False
            out.append((sw.tick(angle), sw.contact_open(SW_OVERTRAVEL)))
        return out, sw._rng.getstate()

    assert sequence(False) == sequence(True)


def test_settled_switches_report_it():
    sw = Switches(P, random.Random(1))
    sw.settle(0.0)
    assert sw.settled_for(0.0)
    assert not sw.settled_for(P.frame.home_switch_mdeg - 1)  # a limit switch would change
    sw.press(SW_START)
    assert not sw.settled_for(0.0)
    for _ in range(10):
        sw.tick(0.0)
    assert sw.settled_for(0.0) and sw.bits == SW_START
    sw.spike(SW_UP)
    assert not sw.settled_for(0.0)


# ------------------------------------------------------------------ IMU noise


def test_gauss_blocks_are_exact_on_this_interpreter():
    assert imu_model._BLOCKS_EXACT  # else it draws one value at a time (slower)


@pytest.mark.parametrize("seed", range(6))
def test_gauss_blocks_are_rng_gauss(seed):
    # values drawn ahead in (small) blocks, taken in random counts, with the rng brought
    # up to date at random moments and drawn from directly in between: the same values
    # and the same rng state as rng.gauss(0.0, 1.0) one by one
    ev = random.Random(seed)
    a = random.Random(seed * 31)
    b = random.Random(seed * 31)
    if seed % 2:
        a.gauss(0.0, 1.0)  # a value pending in gauss_next when the blocks start
        b.gauss(0.0, 1.0)
    g = imu_model.GaussBlocks(b)
    g.BLOCK_PAIRS = ev.choice((1, 2, 5, 64))
    for _ in range(300):
        r = ev.random()
        if r < 0.1:
            g.attach()
            assert b.getstate() == a.getstate()
            assert b.random() == a.random()
        elif r < 0.15:
            g.attach()
            assert b.gauss(0.0, 2.0) == a.gauss(0.0, 2.0)  # may leave a value pending
        else:
            k = ev.choice((1, 2, 6, 9, 13))
            z, i = g.take(k)
            assert z[i:i + k] == [a.gauss(0.0, 1.0) for _ in range(k)]
    g.attach()
    assert b.getstate() == a.getstate()


@pytest.mark.parametrize("vibrating", [False, True])
def test_imu_samples_from_blocks_are_those_of_rng_gauss(vibrating):
    # the model with its noise drawn ahead in blocks against rng.gauss itself, through
    # the spikes fault switched on and off (which draws from the rng in between)
    def samples(blocks):
        imu = Mpu6050Model(P, random.Random(19))
        if not blocks:
            imu._blocks = None
        bus = FakeI2C(imu)
        bus.writeto_mem(imu.addr, imu_model.PWR_MGMT_1, b"\x01")
        bus.writeto_mem(imu.addr, imu_model.CONFIG, b"\x03")
        out = []
        for i in range(1, 3000):
            if i % 400 == 0:
                imu.set_fault("spikes", not imu.faults["spikes"])
            if i == 1700:
                imu.accel_bias_g = [5.0, 0.0, 0.0]  # clipped at full scale from here
            imu.update(i, 1000.0 * (i % 90) - 30000.0, 500.0 * (i % 7), vibrating and i % 3 > 0)
            out.append(bus.readfrom_mem(imu.addr, imu_model.ACCEL_XOUT_H, 14))
        return out, imu._rng.getstate(), imu.spikes_injected

    want = samples(False)
    assert samples(True) == want
    assert want[2] > 0


def test_imu_config_change_is_seen_at_the_next_sample():
    imu = Mpu6050Model(P, random.Random(2))
    bus = FakeI2C(imu)
    bus.writeto_mem(imu.addr, imu_model.PWR_MGMT_1, b"\x01")
    bus.writeto_mem(imu.addr, imu_model.CONFIG, b"\x03")
    assert imu.sample_period_ms == 1 and imu.accel_noise_g > 0
    sigma44 = imu.accel_noise_g
    imu.regs[imu_model.CONFIG] = 6  # written behind the bus's back: still seen
    assert imu.accel_noise_g < sigma44
    imu.regs[imu_model.ACCEL_CONFIG] = 3 << 3
    imu.update(5, 0.0, 0.0, False)
    assert abs(bus.readfrom_mem(imu.addr, imu_model.ACCEL_XOUT_H, 6)[4] * 256 - 2048) < 300
