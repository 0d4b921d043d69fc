"""What happens at power-up before the control loop: a normal boot, the service mode,
or the physical reset of the security state. Shared by firmware/main.py (the ESP32)
and host_tools/mpy_board/vdev_boot.py (the virtual device), on the board interface.

Physical presence at the table, read from the buttons as the board powers up:
- START and UP held with the table at the loading stop (home switch made): the service
  mode (SERVICE_BUTTONS). Away from the loading stop they are ignored for this - the
  person may be head-down, and the service mode runs no control loop - and the normal
  boot (the recovery return) runs; the refusal is logged ("refused", servicelog.py).
- START and DOWN held for 10 s with the table at the loading stop (home switch made):
  the physical reset (RESET_BUTTONS, RESET_HOLD_MS; firmware/secreset.py). Let go
  earlier, or off the loading stop, and it is a normal boot. The LED/console say when
  it is done; the boot then waits for both buttons to be let go. A reset that was
  stored sets the board's `pin_setup`: the control loop that follows takes the first
  `pin set` for a while (firmware/auth.py, the setup window). A new table gets its
  first PIN this way too: a PIN is only ever set first by someone at the table.
The console's `maintenance <pin>` (therapist PIN, READY) reaches the service mode too:
it leaves the board's flag file and resets (board.maintenance_requested()).

Service mode: neither the control loop nor the watchdog starts, the driver stays off
(the table does not move: the worm gear holds it), the REPL, file access and deploy are
open, and the console says so (board.maintenance_banner()). The entry is stored with
the reset cause (firmware/servicelog.py). It ends at the next reset.
Runs once at boot: it may allocate.
"""

import servicelog
import store
from micropython import const
from signals import SW_DOWN, SW_HOME, SW_START, SW_UP, Inputs
from ticks import ticks_add, ticks_diff

SERVICE_BUTTONS = SW_START | SW_UP
RESET_BUTTONS = SW_START | SW_DOWN
RESET_HOLD_MS = const(10000)  # long enough that no one does it by leaning on the buttons
_POLL_MS = const(100)

NORMAL = const(0)
SERVICE = const(1)
RESET = const(2)
REFUSED = const(3)  # the service buttons away from the loading stop: a normal boot


def _switches(board, inp):
    board.read_inputs(inp)
    return inp.switches


def _wait(board, ms):
    board.wait_until(ticks_add(board.ticks_ms(), ms))


def buttons_mode(board):
    """NORMAL, SERVICE, REFUSED or RESET from the buttons held at power-up (RESET
    waits out the 10 s hold, reading the buttons every 100 ms). The service mode and
    the physical reset need the loading stop alike."""
    inp = Inputs()
    sw = _switches(board, inp)
    if sw & (SERVICE_BUTTONS | SW_DOWN) == SERVICE_BUTTONS:
        if not sw & SW_HOME:
            board.console_write(b"service mode: only at the loading stop; normal boot\r\n")
            return REFUSED
        return SERVICE
    if sw & (RESET_BUTTONS | SW_UP) != RESET_BUTTONS or not sw & SW_HOME:
        return NORMAL
    board.console_write(b"physical reset: keep START and DOWN held for 10 s\r\n")
    start = board.ticks_ms()
    while ticks_diff(board.ticks_ms(), start) < RESET_HOLD_MS:
        _wait(board, _POLL_MS)
        sw = _switches(board, inp)
        if sw & RESET_BUTTONS != RESET_BUTTONS or not sw & SW_HOME:
            board.console_write(b"physical reset: let go early; normal boot\r\n")
            return NORMAL
    return RESET


def _physical_reset(board, fs, inp):
    from config import Config, ConfigError, load_hardware
    from secreset import reset_security

    cfg = Config()
    try:
        load_hardware(cfg, board.hw_params_path)
    except ConfigError:
        pass  # the defaults: only the beginner profile's bounds depend on it
    status = reset_security(fs, cfg, getattr(board, "nvs", None))
    servicelog.add(fs, "reset", "buttons", board.reset_cause())
    if status == store.OK:
        board.pin_setup = True  # RAM only: this boot's console takes the first PIN
        board.console_write(b"physical reset done: no PIN, child lock off; the profiles "
                            b"back to beginner without consent, unless no PIN was ever "
                            b"set. Let go of the buttons, then set the PIN within 10 min: "
                            b"pin set <new>\r\n")
    else:
        board.console_write(b"physical reset: a write failed; do it again\r\n")
    while _switches(board, inp) & RESET_BUTTONS:
        _wait(board, _POLL_MS)


def boot(board):
    """True: start the control loop. False: the service mode is on (the caller leaves
    to the REPL)."""
    fs = store.DirFS(board.fs_root)
    flag = board.maintenance_requested()  # consumed whatever the buttons say
    mode = buttons_mode(board)
    how = "buttons"
    if mode == REFUSED:
        servicelog.add(fs, "refused", how, board.reset_cause())
        return True
    if mode == NORMAL and flag:
        mode = SERVICE
        how = "pin"
    if mode == SERVICE:
        servicelog.add(fs, "service", how, board.reset_cause())
        board.maintenance_banner()
        return False
    if mode == RESET:
        _physical_reset(board, fs, Inputs())
    return True
