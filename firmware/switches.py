"""The switch inputs as the core sees them: the two limit switches and the e-stop circuit.

Owns: debouncing the home and over-travel switches (one `Debounce` filter each: a level
counts once seen for cfg.switch_samples consecutive ticks), and this tick's e-stop
events: the circuit just opened (polled) or the ISR counted an edge. It only reports;
the core decides what a switch means. update() allocates nothing.
"""

from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL


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
        self.at_home_switch = False  # filtered: the table is at the loading stop
        self.overtravel = False  # filtered: the table is past the soft maximum
        self.estop_open = False  # the e-stop circuit reads open (pressed or wire cut)
        self.estop_opened = False  # this tick: the circuit opened since the last tick
        self.estop_edge = False  # this tick: the ISR counted a new edge
        self.edges_seen = 0  # the ISR's edge count at the last update
        self._edges_init = False

    def update(self, inp):
        sw = inp.switches
        n = self._cfg.switch_samples
        self.at_home_switch = self._home.update(sw & SW_HOME != 0, n)
        self.overtravel = self._over.update(sw & SW_OVERTRAVEL != 0, n)
        edges = inp.estop_edges
        if not self._edges_init:
            self._edges_init = True  # edges counted before the first tick are no event
            self.edges_seen = edges
        self.estop_edge = edges != self.edges_seen
        self.edges_seen = edges
        was_open = self.estop_open
        self.estop_open = sw & SW_ESTOP != 0
        self.estop_opened = self.estop_open and not was_open
