"""The table's switches and buttons as the board's input pins see them, one sample per ms.

Owns: the loading/home and over-travel limit switches (actuated by the true angle), the
e-stop circuit, the ankle lock's switch, the UP/DOWN/START buttons, contact bounce, and
injected noise spikes.
The result is the logical SW_* bitmask of firmware/signals.py (1 = active).

- Every contact is normally closed, so "active" means "circuit open": a pressed e-stop and
  a cut e-stop wire read the same. Limit switches open at the angles of the frame section
  of hardware/table_params.json: home when true angle <= frame.home_switch_mdeg, over-travel
  when true angle >= frame.overtravel_mdeg.
- Bounce: every change of a contact's physical state is followed by 1..bounce_max_ms
  milliseconds (drawn from the seeded rng) in which each sample reads at random; then it
  settles on the new state.
- Spikes: `spike(bits)` inverts those bits for the next single sample only (an EMI glitch);
  `spike_rate` (per bit, per ms) makes them happen at random.
- Cut wires: `cut_wire(bit)` / `repair_wire(bit)` for the home and over-travel switches.
  Each is a normally-closed contact to GND with a pull-up (hardware/safety_wiring.md), so
  a cut wire reads like an open contact: the home switch "at the loading stop", the
  over-travel switch "past over-travel" - and the over-travel node also feeds the
  hardware STEP gate, which then blocks head-down pulses (host_tools/simboard.py reads
  the contact for it). The contact opens with bounce like a real change; repaired, it
  follows the angle again.
- The ankle lock (issue #22): a normally-closed contact, closed while the lock is engaged.
  The world starts with it engaged (a person held, as every scenario before it assumed);
  `ankle_lock("open" | "close" | "cut_wire" | "repair_wire")`: opened, or its wire cut,
  it reads SW_ANKLE_LOCK (open = not engaged), with bounce like the others. Its glitches
  are injected by name (`spike`, a scenario's switch_spike / switch_noise); the random
  `spike_rate` draws over the six older inputs only, so that the fault campaign's
  seeded sequences stay what they were.
"""

from host_tools.paths import use_firmware

use_firmware()

from signals import (  # noqa: E402  (firmware/signals.py, on sys.path after use_firmware)
    SW_ANKLE_LOCK,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)

BUTTONS = {"UP": SW_UP, "DOWN": SW_DOWN, "START": SW_START}
# The inputs random spikes (spike_rate) fall on, in the order they draw.
SPIKE_BITS = (SW_UP, SW_DOWN, SW_START, SW_ESTOP, SW_HOME, SW_OVERTRAVEL)
ALL_BITS = SPIKE_BITS + (SW_ANKLE_LOCK,)
ANKLE_ACTIONS = ("open", "close", "cut_wire", "repair_wire")
# A few ms of bounce, typical of small snap-action and push-button contacts.
DEFAULT_BOUNCE_MAX_MS = 5


class Contact:
    """One switch contact with bounce. `active` is the settled physical state.

    The contacts move at the moment of actuation, so the first millisecond after a change
    already reads the new state (the edge an interrupt sees); the chatter follows it."""

    def __init__(self, rng, bounce_max_ms):
        self._rng = rng
        self._bounce_max_ms = bounce_max_ms
        self.active = False  # physical state (after bounce settles)
        self.reading = False  # what the pin reads this ms
        self._bounce_left = 0
        self._edge = False  # the next tick is the actuation edge itself
        self.on_change = None  # called (no arguments) when set()/settle() touch the contact

    def set(self, active):
        active = bool(active)
        if active != self.active:
            self.active = active
            if self._bounce_max_ms > 0:
                self._bounce_left = self._rng.randint(1, self._bounce_max_ms)
                self._edge = True
            if self.on_change is not None:
                self.on_change()

    def settle(self, active):
        """Take this state with no bounce (it was there before power-up)."""
        self.active = self.reading = bool(active)
        self._bounce_left = 0
        if self.on_change is not None:
            self.on_change()

    def tick(self):
        if self._bounce_left > 0:
            self._bounce_left -= 1
            if self._bounce_left > 0 and not self._edge:
                self.reading = self._rng.random() < 0.5
                return
        self._edge = False
        self.reading = self.active

    @property
    def bouncing(self):
        return self._bounce_left > 0


class Switches:
    """All the board's switch inputs. Call `tick(true_angle_mdeg)` once per simulated ms."""

    def __init__(self, params, rng, bounce_max_ms=DEFAULT_BOUNCE_MAX_MS):
        self._rng = rng
        self.home_switch_mdeg = params.frame.home_switch_mdeg
        self.overtravel_mdeg = params.frame.overtravel_mdeg
        self._contacts = {bit: Contact(rng, bounce_max_ms) for bit in ALL_BITS}
        self._order = tuple(self._contacts.items())  # sampling order: ALL_BITS
        self._home = self._contacts[SW_HOME]
        self._overtravel = self._contacts[SW_OVERTRAVEL]
        for c in self._contacts.values():
            c.on_change = self._wake
        # Quiet: every contact reads its settled state and none is bouncing, so sampling
        # them would change nothing and draw nothing: tick() reuses `_settled_bits`
        # until a contact is set (press, release, a limit switch crossing) again.
        self._quiet = False
        self._settled_bits = 0
        self.estop_pressed = False
        self.estop_wire_cut = False
        self.home_wire_cut = False  # the home switch's wire is cut: reads open
        self.overtravel_wire_cut = False  # the over-travel switch's: reads open
        self.ankle_engaged = True  # the ankle lock holds the person (contact closed)
        self.ankle_wire_cut = False  # the ankle lock switch's wire is cut: reads open
        self.spike_rate = 0.0  # probability per bit per ms of a one-sample glitch
        self._spike_next = 0
        self.bits = 0  # logical SW_* bits of the latest sample

    # ------------------------------------------------------------ the people

    def press(self, button):
        self._contacts[_button_bit(button)].set(True)

    def release(self, button):
        self._contacts[_button_bit(button)].set(False)

    def estop_press(self):
        self.estop_pressed = True
        self._contacts[SW_ESTOP].set(True)

    def estop_release(self):
        self.estop_pressed = False
        self._contacts[SW_ESTOP].set(self.estop_wire_cut)

    def estop_cut_wire(self):
        self.estop_wire_cut = True
        self._contacts[SW_ESTOP].set(True)

    def estop_repair_wire(self):
        self.estop_wire_cut = False
        self._contacts[SW_ESTOP].set(self.estop_pressed)

    def ankle_lock(self, action):
        """The ankle lock: "open" / "close" (the person), "cut_wire" / "repair_wire"."""
        if action == "open" or action == "close":
            self.ankle_engaged = action == "close"
        elif action == "cut_wire" or action == "repair_wire":
            self.ankle_wire_cut = action == "cut_wire"
        else:
            raise ValueError("ankle lock action %r: one of %s" % (action, ANKLE_ACTIONS))
        self._contacts[SW_ANKLE_LOCK].set(not self.ankle_engaged or self.ankle_wire_cut)

    # ------------------------------------------------------------ faults

    def cut_wire(self, bit):
        """Cut the wire of the home (SW_HOME) or over-travel (SW_OVERTRAVEL) switch."""
        self._set_wire(bit, True)

    def repair_wire(self, bit):
        self._set_wire(bit, False)

    def _set_wire(self, bit, cut):
        if bit == SW_HOME:
            self.home_wire_cut = cut
        elif bit == SW_OVERTRAVEL:
            self.overtravel_wire_cut = cut
        else:
            raise ValueError("only the HOME and OVERTRAVEL switch wires (got %r)" % (bit,))
        self._wake()  # the next sample moves the contact (tick())

    def spike(self, bits):
        """Invert these SW_* bits for the next sample only."""
        self._spike_next |= bits

    # ------------------------------------------------------------ sampling

    def physical_bits(self):
        """The settled physical state, without bounce or spikes (for traces and tests)."""
        b = 0
        for bit, c in self._contacts.items():
            if c.active:
                b |= bit
        return b

    def settle(self, true_angle_mdeg):
        """Limit switches in their state for this angle, without bounce (the state they
        were in before the board powered up); samples once."""
        self._contacts[SW_HOME].settle(true_angle_mdeg <= self.home_switch_mdeg
                                       or self.home_wire_cut)
        self._contacts[SW_OVERTRAVEL].settle(true_angle_mdeg >= self.overtravel_mdeg
                                             or self.overtravel_wire_cut)
        return self.tick(true_angle_mdeg)

    def tick(self, true_angle_mdeg):
        """One ms: the limit switches follow the angle; every contact is sampled once."""
        home = self._home
        over = self._overtravel
        if (true_angle_mdeg <= self.home_switch_mdeg or self.home_wire_cut) != home.active:
            home.set(not home.active)
        if (true_angle_mdeg >= self.overtravel_mdeg or self.overtravel_wire_cut) != over.active:
            over.set(not over.active)
        if self._quiet:
            b = self._settled_bits
        else:
            # only a bouncing contact draws from the rng, in ALL_BITS order
            b = 0
            quiet = True
            for bit, c in self._order:
                c.tick()
                if c.reading:
                    b |= bit
                if c._bounce_left > 0:
                    quiet = False
            self._quiet = quiet
            self._settled_bits = b
        spikes = self._spike_next
        if spikes:
            self._spike_next = 0
        if self.spike_rate > 0.0:
            rnd = self._rng.random
            for bit in SPIKE_BITS:
                if rnd() < self.spike_rate:
                    spikes |= bit
        self.bits = b ^ spikes
        return self.bits

    def settled_for(self, true_angle_mdeg):
        """True if tick(true_angle_mdeg) would change nothing and draw nothing: no contact
        bouncing or about to change, no spike due, no random spikes, and the limit
        switches already in their state for this angle. Then every such tick returns
        `bits` again (the board's fast path skips them)."""
        return (
            self._quiet
            and not self._spike_next
            and self.spike_rate <= 0.0
            and self.bits == self._settled_bits
            and (true_angle_mdeg <= self.home_switch_mdeg or self.home_wire_cut)
            == self._home.active
            and (true_angle_mdeg >= self.overtravel_mdeg or self.overtravel_wire_cut)
            == self._overtravel.active
        )

    def contact(self, bit):
        """The Contact of one SW_* input (its `reading` is the pin this ms)."""
        return self._contacts[bit]

    def _wake(self):
        self._quiet = False

    def contact_open(self, bit):
        """The raw contact reading of one input this ms (incl. bounce, excl. spikes)."""
        return self._contacts[bit].reading


def _button_bit(button):
    if isinstance(button, str):
        try:
            return BUTTONS[button.upper()]
        except KeyError:
            raise ValueError("unknown button %r (UP, DOWN or START)" % button) from None
    if button in BUTTONS.values():
        return button
    raise ValueError("unknown button %r" % (button,))

