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
"""

from signals import SW_BUTTONS, SW_DOWN, SW_UP

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
