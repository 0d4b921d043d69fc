"""The switch inputs as the core sees them: the two limit switches, the ankle lock and the
e-stop circuit.

Owns: debouncing the home and over-travel switches (one `Debounce` filter each: a level
counts once seen for cfg.switch_samples consecutive ticks) and the ankle lock (its own
filter, AnkleFilter: open time counts; what it means is firmware/anklelock.py), and this
tick's e-stop events: the circuit just opened (polled) or the ISR counted an edge; and the judgement
of the two limit switches against the angle (judge()): a switch is evidence, not truth.
It only reports; the core decides what a switch means. update() and judge() allocate
nothing.

The evidence rule (issue #18). Each tick the supervisor hands judge() the angle of each
trusted source (the referenced step count, the IMU). A source *contradicts* a switch
when it is further than its tolerance from the switch's point on the wrong side (at
the over-travel switch the witness's worst error and a margin, at least SWITCH_TOL_MDEG;
at the home switch HOME_TOL_MDEG); it *agrees* otherwise. A switch contradicted by every
trusted source (at least one) is a switch fault (faults.HOME_SWITCH,
faults.OVERTRAVEL_SWITCH): a cut wire on the normally closed home switch reads "at the
loading stop" at 25 deg; a cut over-travel wire reads "past the over-travel switch" at
20 deg; a welded one reads "not past" at 75 deg.
`at_loading` - what READY and "at the loading stop" rest on - is the home switch AND
every trusted source agreeing (and at least one trusted): never the switch alone.
A home switch's contradiction counts once it has lasted longer than HOME_LIE_MS
(attack18e 3: a 30 ms open of the NC wire on the way to the loading position passed the
3-sample filter and latched FAULT HOME_SWITCH at -20 deg, the return stopped there);
the fault's return then goes on to the loading position (reactions.fault_goal). While
it lasts nothing rests on it (at_loading needs the angles to agree), so a glitch that
ends is filtered as homing's dwell filters it, and one that stays is the fault.
Within its tolerance of a switch's point the firmware cannot tell a lying switch from a
true one (an uncalibrated IMU may be 5.4 deg off, the steps up to the runaway
tolerance): a home wire cut between the loading stop and 6 deg above the home switch
reads as the real thing, and uncalibrated a welded over-travel switch up to 6 deg past
its point (74 deg; the frame's end stop is 75): an uncalibrated table moves nothing
head-down of the rest angle (commissioning.py), so only a crank takes it there.
"""

from commissioning import imu_err_mdeg
from micropython import const
from signals import SW_ANKLE_LOCK, SW_ESTOP, SW_HOME, SW_OVERTRAVEL

# A source contradicts a switch beyond this distance from the switch's point: more than
# either source may be off by. The steps up to the runaway tolerance (2.5 deg) before
# that check trips; the IMU 3 deg at the MPU-6050's typical offsets: 4 deg, as the boot
# self-test's comparison of the same switches with the IMU.
SWITCH_TOL_MDEG = const(4000)
# At the home switch more: at power-up the steps are referenced on the IMU and share its
# error, and an uncalibrated IMU at the datasheet zero-g offsets (X/Y +-50 mg, Z +-80 mg:
# |(50, 80)| = 94 mg) reads up to 5.4 deg off (issue #18). The over-travel switch is
# reached only homed (every first motion homes), on the step count.
HOME_TOL_MDEG = const(6000)
# At the over-travel switch the tolerance is the witness's worst error (an uncalibrated
# IMU 5.4 deg, commissioning.imu_err_mdeg; not homed, the steps share it) plus this
# margin, and never under SWITCH_TOL_MDEG. attack18e 5: powered up at 70 deg with a part
# at the datasheet corner (reading 5.2 deg high), the switch released at 68 deg while the
# IMU read 73: 4 deg made it a liar and latched the person at 67.9 deg head-down. The
# margin is the home switch's (6.0 - 5.4): the noise and the filter's lag at jog speed.
OVER_TOL_MARGIN_MDEG = const(600)
# The home switch contradicting every trusted angle is a switch fault once it has done so
# this long without a break: a glitch of the NC wire (a loose crimp: 30 ms to 1 s seen,
# attack18c-e) ends well inside it as a rule, as in homing's dwell (homing.DWELL_MS, the
# same figure). Nothing acts on the lie meanwhile (at_loading needs the angles to agree);
# a cut wire is the fault 200 ms later, 0.7 deg at normal speed, on its way back anyway.
# Counted in ticks of the debounced level, which holds an open exactly as many ticks as
# it was sampled open: an open shorter than HOME_LIE_MS is sampled at most HOME_LIE_MS /
# tick times (20 at 10 ms, by the sampling's phase), so it counts from one tick more
# (attack18f 2: counted from 20 ticks, a 195-200 ms open latched the fault).
HOME_LIE_MS = const(200)
# The ankle lock counts as open once a clean open run of this many ticks (30 ms at 10 ms)
# would have counted it, and closed again after this many consecutive closed ticks. A
# glitch (EMI on the cable, a contact bounce) shorter than two tick periods (20 ms) is
# at most two samples and never counts. Fixed, not cfg.switch_samples: that setting may
# be 1 (every glitch an emergency return) or 10 (100 ms, 0.35 deg more head-down at
# normal speed before the reaction); 30 ms is 0.1 deg at normal speed.
ANKLE_SAMPLES = const(3)
# Open time counts, not only open runs (AnkleFilter): an open sample adds this, a closed
# one takes 1 away, and the lock counts as open at ANKLE_SAMPLES * ANKLE_OPEN_WEIGHT.
# A contact open more than a third of the time therefore counts as open: open 20 ms /
# closed 10 ms chatter after 50 ms, half open after 90 ms; a 20 ms glitch adds 4 of 6.
ANKLE_OPEN_WEIGHT = const(2)


class AnkleFilter:
    """The ankle lock's level: open on enough open time (an up/down count: a loose or
    half-cut wire that reads open most of the time counts as open, where a consecutive
    count restarts at every closed sample), closed only after a clean closed run."""

    def __init__(self):
        self.level = True  # open until read closed (fail-safe)
        self._n = 0  # closed: the open count; open: consecutive closed samples

    def update(self, raw):
        n = self._n
        if not self.level:
            if raw:
                n += ANKLE_OPEN_WEIGHT
                if n >= ANKLE_SAMPLES * ANKLE_OPEN_WEIGHT:
                    self.level = True
                    n = 0
            elif n > 0:
                n -= 1
        elif raw:
            n = 0
        else:
            n += 1
            if n >= ANKLE_SAMPLES:
                self.level = False
                n = 0
        self._n = n
        return self.level


class Debounce:
    """One switch level, changed only after `samples` consecutive ticks of the other."""

    def __init__(self):
        self.level = False
        self._n = 0  # consecutive ticks the raw level has differed from `level`

    def update(self, raw, samples):
        if raw != self.level:
            self._n += 1
            if self._n >= samples:
                self.level = raw
                self._n = 0
        else:
            self._n = 0
        return self.level


class Switches:
    def __init__(self, cfg):
        self._cfg = cfg  # switch_samples is read live: a setting change applies at once
        self._home = Debounce()
        self._over = Debounce()
        # Until read closed ANKLE_SAMPLES times the lock counts as open (fail-safe): the
        # self-test window (BOOT) is much longer than that.
        self._ankle = AnkleFilter()
        self.at_home_switch = False  # filtered: the table is at the loading stop
        self.overtravel = False  # filtered: the table is past the soft maximum
        self.ankle_open = True  # filtered: the ankle lock is not engaged (or its wire cut)
        self.ankle_opened = False  # this tick: ankle_open became true
        self.estop_open = False  # the e-stop circuit reads open (pressed or wire cut)
        self.estop_opened = False  # this tick: the circuit opened since the last tick
        self.estop_edge = False  # this tick: the ISR counted a new edge
        self.edges_seen = 0  # the ISR's edge count at the last update
        self.at_loading = False  # the home switch, and every trusted angle agrees (judge)
        self.home_lies = False  # the home switch contradicts every trusted angle (HOME_LIE_MS)
        self._home_lie_ms = 0  # how long it has, without a break
        self.over_lies = False  # the over-travel switch contradicts every trusted angle
        self._edges_init = False

    def update(self, inp):
        sw = inp.switches
        n = self._cfg.switch_samples
        self.at_home_switch = self._home.update(sw & SW_HOME != 0, n)
        self.overtravel = self._over.update(sw & SW_OVERTRAVEL != 0, n)
        was = self.ankle_open
        self.ankle_open = self._ankle.update(sw & SW_ANKLE_LOCK != 0)
        self.ankle_opened = self.ankle_open and not was
        edges = inp.estop_edges
        if not self._edges_init:
            self._edges_init = True  # edges counted before the first tick are no event
            self.edges_seen = edges
        self.estop_edge = edges != self.edges_seen
        self.edges_seen = edges
        was_open = self.estop_open
        self.estop_open = sw & SW_ESTOP != 0
        self.estop_opened = self.estop_open and not was_open

    def judge(self, steps_ok, steps_mdeg, imu_ok, imu_mdeg):
        """Judge the limit switches against the trusted angles (see the module doc)."""
        cfg = self._cfg
        home = cfg.home_switch_mdeg + HOME_TOL_MDEG  # beyond: clearly off the home switch
        tol = imu_err_mdeg(cfg) + OVER_TOL_MARGIN_MDEG
        if tol < SWITCH_TOL_MDEG:
            tol = SWITCH_TOL_MDEG
        lo = cfg.overtravel_mdeg - tol  # below: clearly short of over-travel
        hi = cfg.overtravel_mdeg + tol  # above: clearly past it
        n = 0  # trusted sources
        off_home = 0  # of them, clearly off the home switch
        short = 0  # clearly short of the over-travel switch
        past = 0  # clearly past it
        if steps_ok:
            n += 1
            off_home += steps_mdeg > home
            short += steps_mdeg < lo
            past += steps_mdeg > hi
        if imu_ok:
            n += 1
            off_home += imu_mdeg > home
            short += imu_mdeg < lo
            past += imu_mdeg > hi
        h = self.at_home_switch
        self.at_loading = h and n > 0 and off_home == 0
        if h and n > 0 and off_home == n:
            if self._home_lie_ms <= HOME_LIE_MS:
                self._home_lie_ms += cfg.tick_ms
        else:
            self._home_lie_ms = 0
        self.home_lies = self._home_lie_ms > HOME_LIE_MS
        o = self.overtravel
        self.over_lies = n > 0 and ((o and short == n) or (not o and past == n))
