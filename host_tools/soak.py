"""The long reliability campaign: random fault sequences, console and storage fuzzing.

    make soak                                  # SOAK=1: 5000 sequences, about an hour
    make soak SOAK_MINUTES=20                  # or SOAK_SEQUENCES=N (the environment)
    python -m host_tools.soak --sequences 500 --jobs 2 --seed 7
    python -m host_tools.soak --minutes 30 --no-shrink

Each sequence is a random setup (user, start angle, profile) and a random list of user
actions and injected faults (host_tools/faultinject.py) run on the real firmware on the
simulated board with every invariant of host_tools/invariants.py checked at every
simulated millisecond, then the recovery probe (the world healthy again: at most two
acknowledgements and one press bring the table to READY). Every tenth sequence is a
console/storage fuzz round instead (host_tools/faultinject.fuzz_console, fuzz_storage).

Prints the figures at the end: sequences tried, faults injected by kind, faults the
firmware logged, emergency returns checked and their worst slack, invariant violations
(must be 0) and, for each violation, a shrunk counterexample as a ready-to-paste pytest
function. Exit status 0 with no violation, 1 otherwise.

Deterministic: sequence i uses random.Random(seed * 1_000_003 + i); the same --seed and
--sequences give the same run on any machine (--minutes stops at a time, so the count
varies).
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
import traceback

from host_tools import faultinject as fi
from host_tools import invariants

DEFAULT_SEQUENCES = 5000  # about an hour on two cores
SEQ_LEN = (8, 40)  # actions per sequence
FUZZ_EVERY = 10  # every tenth sequence is a console/storage fuzz round


def _one(args):
    """Run sequence i; returns a result dict (picklable)."""
    seed, i = args
    rng = random.Random(seed * 1_000_003 + i)
    out = {"i": i, "injected": {}, "stats": None, "violation": None, "kind": "sequence",
           "error": None, "virtual_ms": 0, "lines": 0, "known": None}
    try:
        if i % FUZZ_EVERY == FUZZ_EVERY - 1:
            _fuzz_round(rng, out)
        else:
            _sequence(rng, out)
    except Exception:  # a harness or firmware exception that is not a Violation
        out["error"] = traceback.format_exc()
    return out


def _fuzz_round(rng, out):
    out["kind"] = "fuzz"
    r = fi.fuzz_console(rng.randrange(1 << 30), lines=300)
    r2 = fi.fuzz_storage(rng.randrange(1 << 30), boots=6)
    out["lines"] = r["lines"]
    out["injected"] = {"console_lines": r["lines"], "corrupt_boot": r2["boots"]}
    out["virtual_ms"] = r["virtual_ms"] + r2["virtual_ms"]


def _sequence(rng, out):
    """A random setup and sequence with every invariant checked, then the recovery probe."""
    setup = fi.random_setup(rng)
    actions = fi.random_sequence(rng, rng.randint(*SEQ_LEN))
    h = None
    try:
        h = fi.Harness(setup)
        h.run_ms(500)
        h.run(actions)
        h.recover()
    except invariants.KnownBug as e:
        out["known"] = e.bug
    except invariants.Violation as e:
        out["violation"] = {"inv": e.inv, "text": str(e), "setup": setup,
                            "actions": list(h.actions if h else actions)}
    finally:
        if h is not None:
            out["injected"] = dict(h.injected)
            out["stats"] = h.checker.stats
            out["virtual_ms"] = h.board.now_ms
            h.close()


def _shrink(v):
    setup, actions = v["setup"], v["actions"]
    first = fi.fails(setup, actions)
    if first is None:
        return actions, None
    return fi.shrink(setup, actions, first), first


def main(argv=None):
    args, n = _arguments(argv)
    deadline = time.time() + 60 * args.minutes if args.minutes else None
    t0 = time.time()
    tally = _Tally()
    work = ((args.seed, i) for i in range(n))
    pool = multiprocessing.Pool(args.jobs) if args.jobs > 1 else None
    results = pool.imap_unordered(_one, work, chunksize=1) if pool else map(_one, work)
    last = t0
    try:
        for r in results:
            tally.add(r)
            now = time.time()
            if now - last > 30:
                last = now
                print("... %d sequences, %.0f s, %d violations" % (tally.done, now - t0,
                                                                    len(tally.violations)),
                      flush=True)
            if deadline is not None and now > deadline:
                break
    finally:
        if pool:
            pool.terminate()
    tally.report(args, time.time() - t0)
    _counterexamples(tally.violations, args.no_shrink)
    return 1 if tally.violations or tally.errors else 0


def _arguments(argv):
    """The options (the environment's SOAK_SEQUENCES / SOAK_MINUTES as defaults) and the
    number of sequences to run."""
    ap = argparse.ArgumentParser(prog="python -m host_tools.soak", description=__doc__.split(
        "\n")[0])
    ap.add_argument("--sequences", type=int, default=None,
                    help="how many sequences (default %d, or unlimited with --minutes)"
                    % DEFAULT_SEQUENCES)
    ap.add_argument("--minutes", type=float, default=None, help="stop after this long")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-shrink", action="store_true")
    args = ap.parse_args(argv)
    n = args.sequences
    if n is None and os.environ.get("SOAK_SEQUENCES"):
        n = int(os.environ["SOAK_SEQUENCES"])
    if args.minutes is None and os.environ.get("SOAK_MINUTES"):
        args.minutes = float(os.environ["SOAK_MINUTES"])
    if n is None:
        n = 10 ** 9 if args.minutes else DEFAULT_SEQUENCES
    return args, n


class _Tally:
    """The campaign's totals over the results of _one()."""

    def __init__(self):
        self.total = invariants.Stats()
        self.injected = {}
        self.violations = []
        self.known = {}
        self.errors = []
        self.done = 0
        self.fuzz_rounds = 0
        self.lines = 0
        self.virtual_ms = 0

    def add(self, r):
        self.done += 1
        self.virtual_ms += r["virtual_ms"]
        for k, v in r["injected"].items():
            self.injected[k] = self.injected.get(k, 0) + v
        if r["stats"] is not None:
            self.total.merge(r["stats"])
        if r["kind"] == "fuzz":
            self.fuzz_rounds += 1
            self.lines += r["lines"]
        if r["known"]:
            self.known[r["known"]] = self.known.get(r["known"], 0) + 1
        if r["violation"]:
            self.violations.append(r["violation"])
            print("VIOLATION in sequence %d: %s" % (r["i"], r["violation"]["text"]),
                  flush=True)
        if r["error"]:
            self.errors.append((r["i"], r["error"]))
            print("ERROR in sequence %d:\n%s" % (r["i"], r["error"]), flush=True)

    def report(self, args, wall):
        print()
        print("reliability soak: seed %d, %d jobs, %.1f min wall, %.1f h of simulated time"
              % (args.seed, args.jobs, wall / 60, self.virtual_ms / 3.6e6))
        print("sequences tried:        %d (%d fault sequences, %d console/storage fuzz rounds)"
              % (self.done, self.done - self.fuzz_rounds, self.fuzz_rounds))
        print("console lines fuzzed:   %d" % self.lines)
        print("faults injected by kind:")
        for k in sorted(self.injected):
            print("  %-22s %d" % (k, self.injected[k]))
        self._report_checks()
        print("invariant violations:   %d" % len(self.violations))
        print("harness errors:         %d" % len(self.errors))
        print("known firmware bugs hit (each has an xfail test; the sequence stopped there):")
        for k in sorted(fi.KNOWN_BUGS):
            print("  %-32s %d" % (k, self.known.get(k, 0)))

    def _report_checks(self):
        """What the invariant checker saw: faults, resets, emergency returns, detections."""
        total = self.total
        print("faults the firmware logged:")
        for k in sorted(total.faults_logged):
            print("  %-22s %d" % (k, total.faults_logged[k]))
        print("resets seen:            %d" % total.resets)
        print("emergency returns:      %d (met %d, excused %d, void by a reset %d); worst "
              "slack %s" % (total.emergencies, total.emergencies_met, total.emergencies_excused,
                            total.emergencies_void,
                            "-" if total.worst_slack_ms is None else "%.0f ms" %
                            total.worst_slack_ms))
        if total.worst_case:
            print("  the tightest one:     %s" % total.worst_case)
        if total.worst_slack_e_ms is not None:
            print("  worst slack of those judged at emergency speed (no fault): %.0f ms"
                  % total.worst_slack_e_ms)
        print("fault detections timed: %d" % total.detections)
        print("milliseconds checked:   %d" % total.ms_checked)


def _counterexamples(violations, no_shrink):
    """Each violation, shrunk unless no_shrink, as a ready-to-paste test."""
    for k, v in enumerate(violations):
        print()
        print("# counterexample %d: %s" % (k + 1, v["text"]))
        if no_shrink:
            actions, first = v["actions"], None
        else:
            actions, first = _shrink(v)
        if first is None and not no_shrink:
            print("# (did not reproduce when run again)")
        print(fi.as_test("soak_counterexample_%d" % (k + 1), v["setup"], actions,
                         first or v["text"]))


if __name__ == "__main__":
    sys.exit(main())
