"""Property-based tests of the two rules of issue #18 on the way up and the time down.

hypothesis drives random sequences of console commands, button presses, e-stops and
time against the kinematic stand-in (tests/core/rig.py), with random session caps, and
checks after every tick, on the stand-in's true angle:
- a session that began head-up of the head-down threshold never spends more than the
  profile's session_cap_ms beyond it (travel, hold, braking and the way back counted);
- the table never goes from beyond the head-down threshold to more than arrive_tol
  head-up of the rest angle without an unbroken rest_pause_ms within arrive_tol of it.
"""

import os

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)
from rig import TICK_MS, Rig
from signals import SW_DOWN, SW_START, SW_UP
from states import (
    C_ACK,
    C_DISCOMFORT,
    C_ESTOP,
    C_GOTO,
    C_HOLD,
    C_PROGRAM,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
)

COMMANDS = st.sampled_from([C_GOTO, C_GOTO, C_GOTO, C_HOLD, C_STOP, C_RETURN, C_ESTOP,
                            C_ACK, C_START, C_PROGRAM, C_DISCOMFORT, C_RECOVER])
BUTTONS = st.sampled_from([0, 0, SW_UP, SW_DOWN, SW_START])
# the rounding of the stand-in's angle (a step is 0.375 mdeg) and the plan's landing
_SLACK_MDEG = 20


class RestCapMachine(RuleBasedStateMachine):
    @initialize(
        start=st.sampled_from([-60000, -60000, 0, 25000]),
        cap_s=st.integers(min_value=12, max_value=90),
    )
    def boot(self, start, cap_s):
        self.rig = Rig(angle_mdeg=start)
        self.rig.profile.session_cap_ms = cap_s * 1000
        self.rig.profile.max_mdeg = 60000
        self.rig.boot()
        self.head_down_ms = 0
        self.checked = False  # this session began head-up of the threshold
        self.was_active = False
        self.down = False  # head-down since the table was last head-up of the rest angle
        self.near_ms = 0
        self.rested_ms = 0

    @rule(cmd=COMMANDS, a=st.integers(min_value=-70000, max_value=70000),
          b=st.integers(min_value=0, max_value=300000))
    def console(self, cmd, a, b):
        if cmd == C_PROGRAM:
            a = a % 4
        self.rig.core.command(cmd, a, b)

    @rule(bits=BUTTONS)
    def buttons(self, bits):
        self.rig.plant.buttons = bits

    @rule(pressed=st.booleans())
    def estop(self, pressed):
        self.rig.plant.estop = pressed

    # mostly long stretches: a hold, a cap and a rest pause last seconds
    @rule(n=st.sampled_from([1, 7, 60, 300, 1000, 2000]))
    def time_passes(self, n):
        for _ in range(n):
            self._checked_tick()

    def _checked_tick(self):
        rig = self.rig
        cfg = rig.cfg
        core = rig.core
        rig.tick()
        a = rig.plant.angle_mdeg()
        active = core.session.active
        if active and not self.was_active:
            self.checked = a <= cfg.head_down_mdeg
            self.head_down_ms = 0
        self.was_active = active
        if a > cfg.head_down_mdeg:
            self.head_down_ms += TICK_MS
            if self.checked:
                assert self.head_down_ms <= rig.profile.session_cap_ms, (
                    self.head_down_ms, rig.profile.session_cap_ms, core.state)
            self.down = True
            self.near_ms = self.rested_ms = 0
            return
        d = a - cfg.rest_angle_mdeg
        tol = cfg.arrive_tol_mdeg + _SLACK_MDEG
        if d < -tol:
            if self.down:
                assert self.rested_ms >= cfg.rest_pause_ms, (self.rested_ms, core.state)
            self.down = False
        elif d <= tol:
            self.near_ms += TICK_MS
            if self.near_ms > self.rested_ms:
                self.rested_ms = self.near_ms
        else:
            self.near_ms = 0


# make test: EXAMPLES runs of up to STEPS rules (a rule of time passing is up to 20 s);
# make soak (SOAK=1) 5000 of 100. REST_CAP_PROPS_N overrides the number of runs. 45 (150,
# then 75, before issue #17's 2-minute make test): about 0.1 CPU s a run.
EXAMPLES, STEPS = 45, 40
SOAK = os.environ.get("SOAK") == "1"
SETTINGS = settings(
    max_examples=int(os.environ.get("REST_CAP_PROPS_N", 5000 if SOAK else EXAMPLES)),
    stateful_step_count=100 if SOAK else STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_head_down_time_never_exceeds_the_cap_and_every_way_up_rests():
    run_state_machine_as_test(RestCapMachine, settings=SETTINGS)
