"""Table buttons: debounce, press / release / long press / chord / stuck, in integer ms.

Owns the interpretation of the raw UP, DOWN and START bits (firmware/signals.py). Called
once per tick with the elapsed time; results are bitmasks valid for that tick only:
`pressed`, `released`, `short` (START released before the long-press time), `long`
(long press reached, fires once while held), `stable` (debounced state), `stuck`
(held longer than any real use: masked out of `stable` until released), and `chord`
(UP and DOWN held together for chord_ms; fires once). No sleeping, no allocation.

A button already held at the first update (held, or jammed, through a power cut or a
reset) is ignored until it has been seen released: after a reset nothing may move
without a new, deliberate press.

Also owns the buttons' side of the state machine: which command each button event
gives in each state (the tables below), and to_commands(), which gives them to the core
once per tick, through the child lock.
"""

import programs
from events import E_STUCK_BUTTON
from signals import SW_BUTTONS, SW_DOWN, SW_START, SW_UP
from states import (
    C_ACK,
    C_CONSENT,
    C_JOG_DOWN,
    C_JOG_RELEASE,
    C_JOG_UP,
    C_PROGRAM,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
    JOGGING,
    P_STOPPING,
)

_N = 3  # UP, DOWN, START: bit i of SW_BUTTONS


class Buttons:
    def __init__(self, cfg):
        self.configure(cfg)
        self.raw_ms = [0] * _N  # how long the raw level has been unchanged
        self.held_ms = [0] * _N  # how long the debounced state has been "pressed"
        self.raw = 0
        self.stable = 0
        self.stuck = 0
        self.pressed = 0
        self.released = 0
        self.short = 0
        self.long = 0
        self.chord = False
        self._long_done = 0
        self._chord_ms = 0
        self._chord_done = False
        self._first = True
        self.unarmed = 0  # buttons held since boot, ignored until released
        # Idle: nothing raw or stable and every raw level older than the debounce time;
        # an update with no button then changes nothing but the per-tick results.
        self._idle = False

    def configure(self, cfg):
        """Take the timing settings; what the buttons are doing now is kept."""
        self.debounce_ms = cfg.debounce_ms
        self.long_ms = cfg.long_press_ms
        self.chord_ms = cfg.chord_ms
        self.stuck_ms = cfg.stuck_button_ms
        self._idle = False  # judged again with the new debounce time

    def update(self, dt_ms, switches):
        raw = switches & SW_BUTTONS
        if self._first:
            self._first = False
            self.unarmed = raw
        if self.unarmed:
            self.unarmed &= raw  # released once: from then on it counts
            raw &= ~self.unarmed
        self.pressed = 0
        self.released = 0
        self.short = 0
        self.long = 0
        self.chord = False
        if self._idle and not raw:
            self._chord_ms = 0  # all that the loop and the chord check below would do
            self._chord_done = False
            return
        changed = raw ^ self.raw
        self.raw = raw
        stable = self.stable
        idle = not raw and not stable
        for i in range(_N):
            bit = 1 << i
            if changed & bit:
                self.raw_ms[i] = 0
            elif self.raw_ms[i] < self.debounce_ms:
                self.raw_ms[i] += dt_ms
            if self.raw_ms[i] < self.debounce_ms:
                idle = False
            # the raw level has been steady for the debounce time: accept it
            if self.raw_ms[i] >= self.debounce_ms and (raw & bit) != (stable & bit):
                if raw & bit:
                    stable |= bit
                    self.pressed |= bit
                    self.held_ms[i] = 0
                else:
                    stable &= ~bit
                    if not self.stuck & bit:
                        self.released |= bit
                        if not self._long_done & bit:
                            self.short |= bit
                    self.stuck &= ~bit
                    self._long_done &= ~bit
            if stable & bit:
                if self.held_ms[i] < self.stuck_ms:
                    self.held_ms[i] += dt_ms
                    if self.held_ms[i] >= self.stuck_ms:
                        self.stuck |= bit
                if self.held_ms[i] >= self.long_ms and not self._long_done & bit:
                    self._long_done |= bit
                    self.long |= bit
        self.stable = stable
        self._idle = idle and not stable
        self._chord_update(stable, dt_ms)

    def _chord_update(self, stable, dt_ms):
        both = SW_UP | SW_DOWN
        if stable & both == both and not self.stuck & both:
            self._chord_ms += dt_ms
            if self._chord_ms >= self.chord_ms and not self._chord_done:
                self._chord_done = True
                self.chord = True
        else:
            self._chord_ms = 0
            self._chord_done = False

    def active(self):
        """Debounced pressed buttons, minus stuck ones."""
        return self.stable & ~self.stuck


# --- which command each button event gives, one entry per state, BOOT..FAULT (0: none;
# refused commands are still given, so that the refusal is logged). Jogging's own rule
# (letting go of the held button releases the jog) is in to_commands; the chord (UP and
# DOWN held) is the consent in every state.

# UP pressed, DOWN not held: jog head-up; RECOVERY's deliberate command; nothing at the
# loading stop (READY), where there is nowhere further up to go; in FAULT the safe
# return, as a short START gives it (a fault latched at boot: UP is RECOVERY's press).
#                BOOT      RECOVERY   HOMING    READY MOVING    JOGGING HOLDING
#                RETURNING EMERGENCY_RETURN FAULT
UP_PRESS = bytes((C_JOG_UP, C_RECOVER, C_JOG_UP, 0, C_JOG_UP, 0, C_JOG_UP,
                  C_JOG_UP, C_JOG_UP, C_RETURN))
# DOWN pressed, UP not held: jog head-down (RECOVERY waits for UP or START).
DOWN_PRESS = bytes((C_JOG_DOWN, 0, C_JOG_DOWN, C_JOG_DOWN, C_JOG_DOWN, 0, C_JOG_DOWN,
                    C_JOG_DOWN, C_JOG_DOWN, C_JOG_DOWN))
# START released before the long-press time.
START_SHORT = bytes((0, C_RECOVER, C_STOP, C_START, C_RETURN, C_RETURN, C_RETURN,
                     0, 0, C_RETURN))
# START held for the long-press time: acknowledge a latch; in READY the next program.
START_LONG = bytes((0, 0, 0, C_PROGRAM, 0, 0, 0, 0, C_ACK, C_ACK))

def to_commands(core, dt, inp):
    """This tick's button events, as commands to the core (control.Core) in its state."""
    b = core.buttons
    b.update(dt, inp.switches)
    stuck = b.stuck
    if stuck & ~core.stuck_seen:
        core.log.add(core.now_ms, E_STUCK_BUTTON, stuck)
    core.stuck_seen = stuck
    st = core.state
    if not (b.pressed or b.short or b.long or b.chord) and st != JOGGING:
        return  # no button event: nothing below would act
    act = b.active()
    if b.chord:
        _give(core, C_CONSENT)
    if st == JOGGING:
        if act & (SW_UP | SW_DOWN) != core.jog_bit and core.phase != P_STOPPING:
            _give(core, C_JOG_RELEASE)
    elif b.pressed & SW_UP and not act & SW_DOWN:
        if UP_PRESS[st]:
            _give(core, UP_PRESS[st])
    elif b.pressed & SW_DOWN and not act & SW_UP:
        if DOWN_PRESS[st]:
            _give(core, DOWN_PRESS[st])
    if b.short & SW_START and START_SHORT[st]:
        _give(core, START_SHORT[st])
    if b.long & SW_START and START_LONG[st]:
        cmd = START_LONG[st]
        a = programs.next_program_id(core.program_id) if cmd == C_PROGRAM else 0
        _give(core, cmd, a)


def _give(core, cmd, a=0):
    """A command from the table's buttons (the core's command entry applies the child
    lock, firmware/childlock.py, to every source)."""
    return core.command(cmd, a)
