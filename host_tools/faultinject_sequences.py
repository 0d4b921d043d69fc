"""Random action sequences for the reliability campaign, their shrinking and printing.

    actions = random_sequence(random.Random(seed), 40)
    v = fails(setup, actions)                       # the Violation, or None
    short = shrink(setup, actions, v)               # the same failure, fewer actions
    print(as_test("found", setup, short, v))        # a ready-to-paste regular test

The draws are weighted (users act more often than faults strike); a seed reproduces a
sequence exactly.
"""

from host_tools import imu_model, invariants
from host_tools.faultinject_files import CORRUPTIONS, RANDOM_FILES
from host_tools.faultinject_harness import BUTTONS, SPIKE_BITS, run_sequence
from host_tools.faultinject_recovery import LONG_PRESS_MS

FAULT_KINDS = ("estop_press", "estop_blip", "cut_wire", "imu", "spike", "noise", "overload",
               "hang", "crash", "power_cut", "hard_reset", "corrupt", "stuck_button")


def random_setup(rng):
    mass = rng.choice((50, 80, 80, 120, 150))
    s = {
        "seed": rng.randrange(1 << 30),
        "mass_kg": mass,
        "offset_mm": rng.choice((20, 20, 20, -30, 60, 100)),
        "start_mdeg": rng.choice((None, None, None, -30000, 0, 15000, 25000, 40000)),
        "max_deg": rng.choice((20, 30, 30, 45, 60)),
        "consent": rng.random() < 0.8,
        "hold_s": rng.choice((10, 20, 30)),
        "cap_s": rng.choice((30, 60, 180)),
    }
    s["level"] = rng.choice([i for i, a in enumerate((15, 20, 25, 30, 35, 40, 50, 60))
                             if a <= s["max_deg"]])
    return s


CONSOLE_LINES = ("goto %d", "start", "stop", "return", "ack", "estop", "consent",
                 "consent yes", "discomfort", "home", "hold %d", "status", "program beginner",
                 "program progression", "program interval", "start %d 10", "program custom",
                 "log 5", "faults", "selftest")


def random_console_line(rng):
    t = rng.choice(CONSOLE_LINES)
    if "%d" in t:
        return t % rng.choice((-70, -10, 0, 5, 15, 25, 30, 45, 60, 75))
    return t


def random_action(rng):
    """One random action, user actions and faults mixed (weights: users act more often)."""
    r = rng.random()
    for upto, draw in _USER_DRAWS:
        if r < upto:
            return draw(rng)
    return _FAULT_DRAWS[rng.choice(FAULT_KINDS)](rng)


def _power_cut(rng):
    corrupt = ()
    if rng.random() < 0.4:
        corrupt = ((rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS), rng.randrange(1000)),)
    return ("power_cut", rng.randrange(1, 30), rng.choice((5, 200, 3000)), corrupt)


# A user action when the first draw is below `upto` (65 % of the actions), else a fault.
_USER_DRAWS = (
    (0.22, lambda rng: ("wait", rng.choice((100, 500, 1000, 3000, 8000, 20000)))),
    (0.47, lambda rng: ("console", random_console_line(rng))),
    (0.57, lambda rng: ("tap", rng.choice(BUTTONS),
                        rng.choice((60, 150, 400, 1200, LONG_PRESS_MS, 4000)))),
    (0.59, lambda rng: ("chord", rng.choice((500, 3500)))),
    (0.61, lambda rng: ("press", rng.choice(BUTTONS))),
    (0.63, lambda rng: ("release", rng.choice(BUTTONS))),
    (0.65, lambda rng: ("reset_recover", rng.randrange(1, 11))),
)
# Each fault kind's draw (FAULT_KINDS picks the kind, uniformly).
_FAULT_DRAWS = {
    "estop_press": lambda rng: rng.choice((("estop_press",), ("estop_release",))),
    "estop_blip": lambda rng: ("estop_blip", rng.choice((2, 4, 15))),
    "cut_wire": lambda rng: rng.choice((("cut_wire",), ("repair_wire",))),
    "imu": lambda rng: ("imu", rng.choice(imu_model.FAULTS), rng.random() < 0.6),
    "spike": lambda rng: ("spike", rng.choice(SPIKE_BITS)),
    "noise": lambda rng: ("noise", rng.choice((0.001, 0.01, 0.05)), rng.choice((200, 1000))),
    "overload": lambda rng: ("overload", rng.choice((120, 150)),
                             rng.choice((60, 140, 140, 200))),
    "hang": lambda rng: ("hang", rng.choice((50, 300, 1500))),
    "crash": lambda rng: ("crash",),
    "power_cut": _power_cut,
    "hard_reset": lambda rng: ("hard_reset",),
    "corrupt": lambda rng: ("corrupt", rng.choice(RANDOM_FILES), rng.choice(CORRUPTIONS),
                            rng.randrange(1000)),
    "stuck_button": lambda rng: ("stuck", rng.choice(BUTTONS), rng.choice((5000, 125000))),
}


def random_sequence(rng, n):
    return [random_action(rng) for _ in range(n)]


# ------------------------------------------------------------------ shrinking, printing


def fails(setup, actions):
    """The Violation a sequence raises (None if it passes)."""
    try:
        run_sequence(setup, actions)
    except invariants.Violation as e:
        return e
    return None


def _same_failure(a, b):
    return (b is not None and a.inv == b.inv
            and isinstance(a, invariants.KnownBug) == isinstance(b, invariants.KnownBug))


def shrink(setup, actions, first, budget=200):
    """Delta-debug a failing sequence to a short one failing the same invariant."""
    cur = list(actions)
    tries = 0
    chunk = max(1, len(cur) // 2)
    while chunk >= 1 and tries < budget:
        i = 0
        progressed = False
        while i < len(cur) and tries < budget:
            cand = cur[:i] + cur[i + chunk:]
            tries += 1
            if cand and _same_failure(first, fails(setup, cand)):
                cur = cand
                progressed = True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    # shorten waits
    for i, a in enumerate(cur):
        if a[0] == "wait" and a[1] > 100 and tries < budget:
            cand = cur[:i] + [("wait", 100)] + cur[i + 1:]
            tries += 1
            if _same_failure(first, fails(setup, cand)):
                cur = cand
    return cur


def as_test(name, setup, actions, violation):
    """A failing sequence as a regular pytest function (paste into a test file)."""
    lines = ["def test_%s():" % name,
             '    """Found by the soak: %s"""' % str(violation).replace('"', "'"),
             "    setup = %r" % (setup,),
             "    actions = ["]
    for a in actions:
        lines.append("        %r," % (a,))
    lines.append("    ]")
    lines.append("    run_sequence(setup, actions)  # from host_tools.faultinject")
    return "\n".join(lines) + "\n"


