"""The simulator's command line: run a program or a scenario file on the simulated table.

    python -m host_tools.sim --program beginner --plot build/sim.png --trace build/sim.csv
    python -m host_tools.sim --program custom --angle 45 --hold 60 --mass 120
    python -m host_tools.sim --scenario scenarios/estop_at_depth.toml --plot build/estop.png

Runs the real firmware App on the simulated board (host_tools/runner.py) in virtual
time, as fast as the host allows (--realtime paces it to the wall clock). A program run
gives the consent on the console ("consent", "consent yes"), starts the program and runs
until the session has ended (READY after the return) or --duration. A scenario file
(format: scenarios/README.md) runs with its own events and expectations; --mass,
--height, --offset, --seed and --duration override the file.

Shows a progress bar while it runs (plain progress lines when stderr is not a terminal)
and a summary at the end. Exit status: 0 when the run ended as expected (a scenario's
expectations held, or it failed as its xfail says), 1 when an expectation failed, 2 for
a usage error or a malformed scenario file (the message names the file, line and key).
"""

import argparse
import os
import sys
import time

from host_tools import paths, version
from host_tools import scenario as scn

PROGRAMS = ("beginner", "progression", "interval", "custom", "none")
DEFAULT_DURATION_S = 1800.0  # a program run stops at the session's end; this is the limit
DEFAULT_IDLE_S = 60.0  # --program none: just watch the table stand for a minute
_FLAGS = {  # scenario key -> the flag that set it (for error messages)
    "user.mass_kg": "--mass", "user.height_mm": "--height", "user.com_offset_mm": "--offset",
    "table.seed": "--seed", "duration_s": "--duration", "program.angle_deg": "--angle",
    "program.hold_s": "--hold", "program.level": "--level", "profile.level": "--level",
    "profile.max_angle_deg": "--angle",
}


class UsageError(Exception):
    pass


def build_parser():
    p = argparse.ArgumentParser(
        prog=paths.prog("host_tools.sim"),
        description="Simulate the inversion table: a program run or a scenario file.",
        epilog="Exit status: 0 as expected, 1 an expectation failed, 2 usage or scenario error.")
    p.add_argument("--version", action="version", version="%(prog)s " + version.identity())
    p.add_argument("--program", choices=PROGRAMS,
                   help="run this program for a default user (default: beginner)")
    p.add_argument("--angle", type=float, metavar="DEG",
                   help="custom/interval: the angle, degrees head-down")
    p.add_argument("--hold", type=float, metavar="S", help="custom/interval: the hold, seconds")
    p.add_argument("--level", type=int, metavar="N", help="progression/interval: level 0-7")
    p.add_argument("--scenario", metavar="FILE",
                   help="run a scenario file (scenarios/*.toml; a shipped one by its name)")
    p.add_argument("--mass", type=float, metavar="KG", help="user mass, 40-150 kg")
    p.add_argument("--height", type=float, metavar="MM", help="user height, mm")
    p.add_argument("--offset", type=float, metavar="MM",
                   help="user centre of mass from the pivot line, mm (+ = toward the head)")
    p.add_argument("--plot", metavar="PNG", help="write a plot of the run")
    p.add_argument("--trace", metavar="CSV", help="write the trace (one row per tick)")
    p.add_argument("--realtime", action="store_true", help="pace the run to the wall clock")
    p.add_argument("--seed", type=int, metavar="N", help="random seed of the simulated world")
    p.add_argument("--duration", type=float, metavar="S",
                   help="simulated seconds at most (program runs stop at the session's end)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--show-console", action="store_true",
                   help="print what the firmware's console printed")
    return p


# ------------------------------------------------------------------ building the run


def program_scenario(args):
    """The scenario a --program run stands for (validated like a file)."""
    prog = args.program or "beginner"
    notes = []
    if prog != "custom" and prog != "interval" and (args.angle is not None
                                                   or args.hold is not None):
        raise UsageError("--angle/--hold go with --program custom or interval")
    if args.level is not None and prog not in ("progression", "interval"):
        raise UsageError("--level goes with --program progression or interval")
    if prog == "custom" and (args.angle is None or args.hold is None):
        raise UsageError("--program custom needs --angle DEG and --hold S")
    if prog == "interval" and (args.angle is None) != (args.hold is None):
        raise UsageError("--program interval takes both --angle and --hold, or neither")
    data = {"name": "%s program" % prog, "profile": {"consent": False}}
    if prog == "none":
        data["duration_s"] = args.duration if args.duration is not None else DEFAULT_IDLE_S
        data["profile"]["consent"] = True
    else:
        data["until"] = "session_end"
        data["duration_s"] = args.duration if args.duration is not None else DEFAULT_DURATION_S
        program = {"name": prog}
        if args.angle is not None:
            program["angle_deg"] = args.angle
            program["hold_s"] = args.hold
            if args.angle > 30:
                # the beginner profile stops at 30 deg: a therapist raised it for this run
                data["profile"]["max_angle_deg"] = min(args.angle, 60.0)
                notes.append("profile max raised to %g deg for this run%s" % (
                    min(args.angle, 60.0), " (60 deg is the limit: the firmware clamps)"
                    if args.angle > 60 else ""))
        if args.level is not None:
            if prog == "progression":
                program["level"] = args.level
            else:
                data["profile"]["level"] = args.level
        data["program"] = program
        # the person confirms the contraindications on the console, as at the table
        data["events"] = [{"at_s": 0.5, "console": "consent"},
                          {"at_s": 0.6, "console": "consent yes"}]
        data["expect"] = {"final_state": "READY"}
    _apply_overrides(data, args)
    try:
        return scn.from_dict(data, "<command line>"), notes
    except scn.ScenarioError as e:
        raise UsageError(_flag_message(e)) from None


def _apply_overrides(data, args):
    user = data.setdefault("user", {})
    if args.mass is not None:
        user["mass_kg"] = args.mass
    if args.height is not None:
        user["height_mm"] = args.height
    if args.offset is not None:
        user["com_offset_mm"] = args.offset
    if args.seed is not None:
        data.setdefault("table", {})["seed"] = args.seed
    if args.duration is not None:
        data["duration_s"] = args.duration


def _flag_message(e):
    for key, flag in _FLAGS.items():
        if e.key == key:
            return "%s: %s" % (flag, e.message)
    return "%s%s" % ((e.key + ": ") if e.key else "", e.message)


def scenario_path(name):
    """The file --scenario names; one that is not there by that path is looked for among
    the scenarios shipped with the tools ("estop_at_depth", "scenarios/estop_at_depth.toml"
    from an installed inversion-sim anywhere)."""
    if os.path.exists(name):
        return name
    base = os.path.basename(name)
    shipped = os.path.join(paths.SCENARIOS, base if base.endswith(".toml") else base + ".toml")
    return shipped if os.path.exists(shipped) else name


def file_scenario(args):
    """A scenario file, with the command line's overrides (validated again)."""
    if args.program or args.angle is not None or args.hold is not None or (
            args.level is not None):
        raise UsageError("--scenario runs the file's own program: drop --program, --angle, "
                         "--hold and --level (or edit the file)")
    sc = scn.load(scenario_path(args.scenario))  # ScenarioError: exit 2, file:line: key
    over = {}
    _apply_overrides(over, args)
    if not over.get("user"):
        over.pop("user", None)
    if over:
        try:
            checked = scn.from_dict(over, "<command line>")
        except scn.ScenarioError as e:
            raise UsageError(_flag_message(e)) from None
        sc.user.update(checked.user)
        if "table" in over:
            sc.table["seed"] = checked.table["seed"]
        if args.duration is not None:
            sc.duration_ms = checked.duration_ms
            late = [ev for ev in sc.events if ev.at_ms is not None and ev.at_ms > sc.duration_ms]
            if late:
                raise UsageError("--duration %g s ends the run before events[%d] at %g s"
                                 % (args.duration, late[0].index, late[0].at_ms / 1000))
    return sc, []


# ------------------------------------------------------------------ progress and summary


PLAIN_EVERY_MS = 30000  # plain progress: one line per 30 simulated seconds


def _length(end_ms):
    """The bar's length in words: a program run's is its plan's (scenario_run), about."""
    return "about %.0f s" % (end_ms / 1000.0)


class _Progress:
    """A rich progress bar on a terminal; otherwise a plain line every 30 simulated
    seconds (CI logs). Its length: the run's duration, or from the program's start that
    of the session it planned (host_tools/session_plan.py), so a 150 s session fills it."""

    def __init__(self, title, enabled=True):
        self.enabled = enabled
        self.bar = None
        self.title = title
        self.next_ms = PLAIN_EVERY_MS
        self.wall0 = time.perf_counter()
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self.bar = Progress(
                    TextColumn("[bold]{task.description}"), BarColumn(),
                    TextColumn("{task.fields[sim]}"), TextColumn("{task.fields[where]}"),
                    TextColumn("{task.fields[speed]}"), console=console, transient=True)
                self.task = self.bar.add_task(title, total=1.0, sim="", where="", speed="")
                self.bar.start()
        except ImportError:  # plain text below
            self.bar = None

    def __call__(self, now_ms, end_ms, state, angle_mdeg):
        if not self.enabled:
            return
        wall = time.perf_counter() - self.wall0
        speed = ("%.0fx realtime" % (now_ms / 1000.0 / wall)) if wall > 0 else ""
        where = "%s %+.1f deg" % (state, angle_mdeg / 1000.0)
        if self.bar is not None:
            self.bar.update(self.task, completed=min(now_ms / end_ms, 1.0),
                            sim="%6.1f s of %s" % (now_ms / 1000.0, _length(end_ms)),
                            where=where, speed=speed)
            return
        if now_ms >= self.next_ms:
            while self.next_ms <= now_ms:
                self.next_ms += PLAIN_EVERY_MS
            print("%s: t=%6.1f s of %s  %-28s %s" % (self.title, now_ms / 1000.0,
                                                     _length(end_ms), where, speed),
                  file=sys.stderr)
            sys.stderr.flush()

    def stop(self):
        if self.bar is not None:
            self.bar.stop()


def summary_rows(result):
    st = result.stats
    sc = result.scenario
    rows = [
        ("scenario", sc.name if sc.path != "<command line>" else "(command line)"),
        ("program", st["program"]),
    ]
    if st["hold"]:
        rows.append(("hold", st["hold"]))
    rows += [
        ("user", st["user"]),
        ("result", result.verdict + ((" (xfail: %s)" % sc.xfail) if sc.xfail else "")),
        ("deepest angle", "%.1f deg true (firmware: %.1f deg) at t=%.1f s" % (
            st["deepest_true_mdeg"] / 1000, st["deepest_fw_mdeg"] / 1000,
            st["deepest_true_t_ms"] / 1000)),
        ("time head-down", "%.1f s" % (st["head_down_ms"] / 1000)),
        ("emergency returns", str(st["emergency_returns"])),
        ("faults", ", ".join(st["faults"]) or "none"),
        ("lost steps", str(st["lost_steps"])),
        ("final state", "%s%s at %.1f deg" % (
            st["final_state"], (" (%s)" % st["final_fault"]) if st["final_fault"] != "none"
            else "", st["final_true_mdeg"] / 1000)),
        ("sessions recorded", str(st["sessions_recorded"])),
        ("boots", str(st["boots"])),
        ("simulated time", "%.1f s" % (st["sim_ms"] / 1000)),
        ("wall time", "%.2f s" % st["wall_s"]),
        ("speed", "%.0fx realtime (simulated / wall time)" % st["factor"]),
        ("build", version.identity()),
    ]
    return rows


def print_summary(result, out=None):
    out = out or sys.stdout
    rows = summary_rows(result)
    try:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=out)
        if console.is_terminal:
            colour = {"PASS": "green", "XFAIL": "yellow", "FAIL": "red", "XPASS": "red"}
            t = Table(title="Simulation summary", show_header=False, title_justify="left")
            t.add_column(style="bold")
            t.add_column()
            for k, v in rows:
                if k == "result":
                    v = "[%s]%s[/]" % (colour.get(result.verdict, "white"), v)
                t.add_row(k, v)
            console.print(t)
            _print_failures(result, console.print)
            return
    except ImportError:
        pass
    print("Simulation summary", file=out)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print("  %-*s  %s" % (width, k, v), file=out)
    _print_failures(result, lambda s: print(s, file=out))


def _print_failures(result, emit):
    if result.failures:
        head = "Expected failure (%s):" % result.scenario.xfail if result.scenario.xfail else (
            "Expectations that failed:")
        emit(head)
        for f in result.failures:
            emit("  - " + f)
    elif result.scenario.xfail:
        emit("XPASS: the scenario is marked xfail (%s) but every expectation held: remove "
             "the xfail line" % result.scenario.xfail)


# ------------------------------------------------------------------ main


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.scenario:
            sc, notes = file_scenario(args)
        else:
            sc, notes = program_scenario(args)
    except scn.ScenarioError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except UsageError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    for n in notes:
        print("note: " + n, file=sys.stderr)
    for path in (args.plot, args.trace):
        if path:
            d = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(d, exist_ok=True)
            except OSError as e:
                print("error: cannot create %s: %s" % (d, e.strerror or e), file=sys.stderr)
                return 2
    progress = _Progress("%s, %s" % (sc.name, sc.user_text.split(",")[0]),
                         enabled=not args.quiet)
    try:
        result = scn.run(sc, progress=progress, realtime=args.realtime)
    except KeyboardInterrupt:
        progress.stop()
        print("interrupted", file=sys.stderr)
        return 130
    progress.stop()
    if args.show_console:
        for t, line in result.console:
            print("[%8.2f s] %s" % (t / 1000.0, line))
    status = 0 if result.ok else 1
    try:
        if args.trace:
            result.write_csv(args.trace)
            print("trace: %s (%d rows)" % (args.trace, len(result.recorder.rows)))
        if args.plot:
            result.plot(args.plot)
            print("plot: %s" % args.plot)
    except (OSError, ValueError) as e:
        print("error: writing the output: %s" % e, file=sys.stderr)
        status = 2
    print_summary(result)
    if result.error is not None:
        # not a scenario problem: a bug in the simulator or the firmware; show where
        print("the simulation stopped on %s: %s (a simulator or firmware bug, not a "
              "scenario problem):\n%s" % (type(result.error).__name__, result.error,
                                          result.error_traceback), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
