"""Runs the real firmware application on the simulated board, across resets.

`SimRunner` owns one SimBoard (the physical world) and the firmware App running on it.
When the board resets (watchdog, power restore, reset command) SimBoard raises
BoardReset out of wait_until(); the runner then starts a fresh App on the same board,
exactly as the ESP32 would run main.py again. Time is virtual: run_ms(600000) runs a
10-minute session in seconds.
"""

from host_tools.paths import use_firmware
from host_tools.simboard import BoardReset, SimBoard

use_firmware()

from app import App  # noqa: E402  (firmware/, importable once use_firmware() ran)

# The physical reset (firmware/powerup.py): START and DOWN held 10 s at power-up at the
# loading stop; let go at 11 s, as the virtual device's `secreset` does.
_RESET_BUTTONS = ("START", "DOWN")
_RESET_HOLD_MS = 11000


class SimRunner:
    """pin_setup: the first boot is a power-up with the physical reset's buttons held,
    through firmware/powerup.py as main.py runs it: its console takes the first PIN."""

    def __init__(self, board=None, pin_setup=False, **board_kwargs):
        self.board = board if board is not None else SimBoard(**board_kwargs)
        self.app = None
        self.boots = 0
        self.reset_causes = []
        self.tick_hooks = []  # hook(runner) after every firmware tick
        self._power_up = pin_setup
        self._boot()

    def _boot(self):
        board = self.board
        board.pin_setup = False  # RAM: what powerup.py set at an earlier boot is gone
        if self._power_up:
            self._power_up = False
            self._physical_reset()
        self.app = self._new_app(board)
        self.app.start()
        self.boots += 1
        self.reset_causes.append(self.board.reset_cause())

    def _new_app(self, board):
        return App(board)

    def _physical_reset(self):
        import powerup  # firmware/: only this boot runs it (a normal boot's trace stays)

        board = self.board

        def let_go(b):
            for name in _RESET_BUTTONS:
                b.release(name)

        for name in _RESET_BUTTONS:
            board.press(name)
        board.advance(50)  # held before the power came on: the contacts have settled
        board.call_at(board.now_ms + _RESET_HOLD_MS, let_go)
        assert powerup.boot(board) and board.pin_setup, "the physical reset did not happen"

    @property
    def core(self):
        return self.app.core

    def step(self):
        """One firmware tick (and the world up to the next one)."""
        try:
            if not self.app.step():
                return False
        except BoardReset:
            self._boot()
        for hook in self.tick_hooks:
            hook(self)
        return True

    def run_ms(self, ms):
        """Run the firmware for ms of virtual time."""
        end = self.board.now_ms + ms
        while self.board.now_ms < end:
            self.step()

    def run_until(self, predicate, timeout_ms):
        """Run until predicate(runner) is true; returns True if it became true in time."""
        end = self.board.now_ms + timeout_ms
        while self.board.now_ms < end:
            if predicate(self):
                return True
            self.step()
        return predicate(self)

    def send(self, line):
        """Type a console line; returns nothing (read replies with receive())."""
        self.board.host_send(line.encode() + b"\n")

    def receive(self):
        return self.board.host_receive().decode("utf-8", "replace")
