"""How fast the chip-model rig runs the real firmware, against the simulator's twin.

    python -m host_tools.chip_bench [--seconds 60] [--profile] [--only chip|twin|null]

Owns the measurement of issue #19 phase 2's speed question: simulated seconds per wall
(and CPU) second of bench.session_script (consent, then the beginner and interval
programs from the console) on
- chip: the real board code (firmware/board_esp32.py, stepgen.py) on host_tools/chip
  with rig.RigidTable as the world;
- twin: SimRunner on host_tools/simboard.py (what `make bench` calls sim_realtime_factor);
- null: the lower bound - the same App and board code on a chip that does nothing but
  count time (NullChip below): no peripheral model, no world, no IMU registers beyond
  one cached sample. What the board code itself costs per tick on CPython; no chip model
  can make the rig faster than this.
--profile prints cProfile's top functions by own time, grouped by file.
"""

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time

from host_tools import paths

paths.use_firmware()

# before any rig: the chip puts its own `select` in sys.modules, which subprocess needs
from host_tools.bench import session_script  # noqa: E402


class _ChipBoardView:
    """What bench.session_script reads of a runner's board: now_ms."""

    def __init__(self, chip):
        self._chip = chip

    @property
    def now_ms(self):
        return self._chip.now_us // 1000


class ChipRunner:
    """The App on the real board code on a chip rig, with SimRunner's script interface
    (step, send, receive, core, app, board.now_ms). No resets are expected here."""

    def __init__(self, rig):
        from app import App

        self.rig = rig
        b = rig.board()
        b.code_root = None  # imported from the source tree: no deploy manifest
        self.app = App(b)
        self.app.start()
        self.board = _ChipBoardView(rig.chip)

    @property
    def core(self):
        return self.app.core

    def step(self):
        return self.app.step()

    def send(self, line):
        self.rig.chip.uart.host_send(line.encode() + b"\n")

    def receive(self):
        return self.rig.chip.uart.host_receive().decode("utf-8", "replace")


def _in_tmp(fn):
    """Run fn() in a fresh commissioned filesystem root (the chip's flash)."""
    from host_tools.simboard import commission

    root = tempfile.mkdtemp(prefix="chip-bench-")
    cwd = os.getcwd()
    try:
        shutil.copy(paths.TABLE_PARAMS, os.path.join(root, "table_params.json"))
        os.chdir(root)
        commission(".", "table_params.json")
        return fn()
    finally:
        os.chdir(cwd)
        shutil.rmtree(root, ignore_errors=True)


_BOARD_CALLS = ("ticks_ms", "read_inputs", "apply_outputs", "console_read_into",
                "console_write", "wdt_feed", "wait_until")


def _time_board(board):
    """Wrap the board interface's methods on this instance; returns [CPU s inside]."""
    spent = [0.0]
    clock = time.process_time

    def wrap(fn):
        def timed(*a):
            t = clock()
            try:
                return fn(*a)
            finally:
                spent[0] += clock() - t

        return timed

    for name in _BOARD_CALLS:
        setattr(board, name, wrap(getattr(board, name)))
    return spent


def _timed(runner, ms, prof, split=False, trace=None):
    spent = _time_board(runner.app.board) if split else None
    if trace is not None:
        runner_step = runner.step

        def step():
            r = runner_step()
            trace.append((runner.board.now_ms, runner.core.state, trace.angle()))
            return r

        runner.step = step
    w0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    started, ended, errors = session_script(runner, ms)
    if prof is not None:
        prof.disable()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    res = {"simulated_s": ms / 1000.0, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
           "factor_wall": round(ms / 1000.0 / wall, 1), "factor_cpu": round(ms / 1000.0 / cpu, 1),
           "ticks": runner.app.ticks, "sessions": started, "ended": ended,
           "errors": errors[:3]}
    if spent is not None:
        res["board_cpu_s"] = round(spent[0], 3)
        res["board_us_per_tick"] = round(spent[0] / runner.app.ticks * 1e6, 1)
        res["rest_us_per_tick"] = round((cpu - spent[0]) / runner.app.ticks * 1e6, 1)
    return res


def run_chip(ms, prof=None, split=False):
    from host_tools.chip.rig import Rig

    def go():
        rig = Rig(table=True)
        try:
            r = ChipRunner(rig)
            res = _timed(r, ms, prof, split)
            res["pulses"] = rig.gate.pulses
            return res
        finally:
            rig.close()

    return _in_tmp(go)


def run_phys(ms, prof=None, split=False, trace=None, every_ms=False):
    """The chip rig with the simulator's world (host_tools/chip/world.PhysicsTable)."""
    from host_tools.chip.rig import Rig
    from host_tools.chip.world import PhysicsTable

    def go():
        rig = Rig(imu=None)
        rig.events = rig.chip.world = PhysicsTable(rig.chip, rig.gate, rig.params,
                                                   every_ms=every_ms)
        rig.imu = rig.events.imu
        try:
            r = ChipRunner(rig)
            if trace is not None:
                trace.angle = lambda: rig.events.true_angle_mdeg
            res = _timed(r, ms, prof, split, trace)
            res["pulses"] = rig.gate.pulses
            res["angle_mdeg"] = round(rig.events.true_angle_mdeg)
            return res
        finally:
            rig.close()

    return _in_tmp(go)


def run_twin(ms, prof=None, split=False, trace=None):
    from host_tools.runner import SimRunner

    def go():
        r = SimRunner(fs_root=".")
        if trace is not None:
            trace.angle = lambda: r.board.true_angle_mdeg
        res = _timed(r, ms, prof, split, trace)
        res["angle_mdeg"] = round(r.board.true_angle_mdeg)
        return res

    return _in_tmp(go)


def board_ticks(kind, ticks=3000, rate_sps=1500):
    """CPU us per tick of the board interface alone, as App.step calls it (read_inputs,
    apply_outputs, console_read_into, wdt_feed, wait_until), with the drive running at
    rate_sps and reversing every second. kind: "null" (board_esp32 + stepgen on the
    do-nothing chip; the dead-man's two timer callbacks called here), "chip" (on the chip
    model with RigidTable), "twin" (SimBoard, its physics included)."""
    from signals import Inputs, Outputs

    def go():
        rig = None
        if kind == "twin":
            from host_tools.simboard import SimBoard

            b = SimBoard(fs_root=".")
        else:
            if kind == "null":
                from host_tools.chip.null import NullRig

                rig = NullRig()
            else:
                from host_tools.chip.rig import Rig

                rig = Rig(table=True)
            b = rig.board()
        try:
            inp, out, buf = Inputs(), Outputs(), bytearray(64)
            out.limit_lo, out.limit_hi, out.enable = -10**7, 10**7, True
            deadman = b.stepgen._deadman if kind == "null" else None
            c0 = time.process_time()
            for i in range(ticks):
                out.rate_sps = rate_sps if (i // 100) % 2 else -rate_sps
                t = b.ticks_ms()
                b.read_inputs(inp)
                b.apply_outputs(out)
                b.console_read_into(buf)
                b.wdt_feed()
                if deadman is not None:
                    deadman(None)
                    deadman(None)
                b.wait_until(t + 10)
            return (time.process_time() - c0) / ticks * 1e6
        finally:
            if rig is not None:
                rig.close()

    return round(_in_tmp(go), 1)


class _Trace(list):
    """(t_ms, core state, true angle mdeg) after every tick."""

    angle = None


def compare(ms):
    """The session on the twin and on the chip rig with the simulator's world: how far
    the true angles and the core's states are apart, tick by tick at the same times."""
    tw, ch = _Trace(), _Trace()
    run_twin(ms, trace=tw)
    run_phys(ms, trace=ch)
    # the chip's ticks are offset from the twin's (its boot runs the ~50 ms step-generator
    # self-test first): each 10 ms slot's tick is compared
    at = {t // 10: (s, a) for t, s, a in ch}
    worst = (0.0, None)
    same_state = both = 0
    for t, s, a in tw:
        c = at.get(t // 10)
        if c is None:
            continue
        both += 1
        same_state += s == c[0]
        if abs(a - c[1]) > worst[0]:
            worst = (abs(a - c[1]), t)
    return {"ticks_compared": both, "same_state": same_state,
            "max_angle_diff_mdeg": round(worst[0], 1), "at_ms": worst[1],
            "final_angle_mdeg": (round(tw[-1][2]), round(ch[-1][2])),
            "tick_offset_ms": (ch[0][0] - tw[0][0]) % 10}


def _print_profile(prof, top):
    st = pstats.Stats(prof)
    by_file = {}
    rows = []
    for (fname, line, func), (_cc, nc, tt, _ct, _callers) in st.stats.items():
        short = fname.replace(os.getcwd() + os.sep, "")
        for mark in ("firmware/", "host_tools/"):
            i = fname.find(mark)
            if i >= 0:
                short = fname[i:]
        by_file[short] = by_file.get(short, 0.0) + tt
        rows.append((tt, nc, "%s:%d %s" % (short, line, func)))
    total = sum(by_file.values())
    print("own time by file (%.2f s total under cProfile):" % total)
    for f, tt in sorted(by_file.items(), key=lambda e: -e[1])[:top]:
        print("  %6.2f s %5.1f%%  %s" % (tt, 100 * tt / total, f))
    print("top functions by own time:")
    for tt, nc, name in sorted(rows, reverse=True)[:top]:
        print("  %6.2f s %9d calls  %s" % (tt, nc, name))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60, help="simulated seconds per run")
    ap.add_argument("--only", choices=("chip", "phys", "twin", "ticks"), action="append")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--compare", action="store_true",
                    help="twin vs chip + the simulator's world: true angle and state per tick")
    ap.add_argument("--split", action="store_true",
                    help="also time the board interface's calls (board + world) apart")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args(argv)
    if a.compare:
        print("compare", compare(a.seconds * 1000))
        return 0
    runs = {"chip": run_chip, "phys": run_phys, "twin": run_twin}
    for name in a.only or ("twin", "chip", "ticks"):
        if name == "ticks":
            for kind in ("null", "chip", "twin"):
                print("board interface alone, %s: %s CPU us per 10 ms tick"
                      % (kind, board_ticks(kind)))
            continue
        prof = cProfile.Profile() if a.profile else None
        res = runs[name](a.seconds * 1000, prof, a.split)
        print("%-5s %s" % (name, res))
        sys.stdout.flush()
        if prof is not None:
            _print_profile(prof, a.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
