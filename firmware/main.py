"""Power-up entry point on the ESP32: the service mode, the physical reset, or the
control loop (firmware/powerup.py decides, from the buttons held at power-up and the
flag the console's `maintenance <pin>` leaves).

In normal operation this never returns and never ends in the REPL: Ctrl-C is no
keyboard interrupt (boot.py, board_esp32), and anything that escapes - a failure
before the loop runs, say - resets the board instead of leaving the REPL open to the
USB cable. Only the service mode returns, with the REPL on.

The firmware manifest is checked before the application is imported, and a module
that cannot be imported (deleted, or a new one a cut deploy never copied) does not
end in a reset loop: _halt keeps the driver off and the alarm on and says on the
console what is missing and how to deploy again, until the next reset.
"""

import micropython


def _halt(board, text):
    """No application to run: the outputs at their safe values (driver de-energised:
    the worm holds the table), the alarm on, the console told every 5 s. Forever: the
    watchdog is not armed yet, and a reset would only come back here. board None (the
    board module itself is missing): the pins stay as the reset left them, and the
    ENABLE pull-up keeps the driver off (hardware/safety_wiring.md)."""
    import time

    how = ("power up at the loading stop with START and UP held (the service mode), "
           "then `make deploy`")
    if board is not None:
        try:
            from signals import IND_ALARM, Outputs, safe_outputs
            from ticks import ticks_add

            out = Outputs()
            safe_outputs(out, 0)
            out.led = out.buzzer = IND_ALARM
        except ImportError as e:
            text = "%s; %s" % (text, e)
            board = None
    if board is None:  # no service mode either: powerup.py or the board is missing
        how = ("flash MicroPython again (`make flash-micropython`, which erases the "
               "stored records), then `make deploy`")
    msg = "inversion table: FIRMWARE INCOMPLETE, the table does not move: %s. %s\r\n" % (
        text, how[0].upper() + how[1:])
    n = 0
    while True:
        if board is None:
            print(msg)
            time.sleep_ms(5000)  # pyright: ignore[reportAttributeAccessIssue]
            continue
        board.apply_outputs(out)  # pyright: ignore[reportPossiblyUnbound]
        if n % 500 == 0:
            board.console_write(msg.encode())
        n += 1
        board.wait_until(ticks_add(board.ticks_ms(), 10))  # pyright: ignore[reportPossiblyUnbound]


# Run once before the application: off the heap before it is imported (a stock
# ESP32_GENERIC loads every module's code into the heap; README "Benchmarks"). App
# imports manifest again for its own check and drops it after (firmware/app.py).
_BOOT_ONLY = ("powerup", "servicelog", "secreset", "manifest")


def _drop_boot_modules():
    import gc
    import sys

    for m in _BOOT_ONLY:
        if m in sys.modules:
            del sys.modules[m]
    gc.collect()  # standing still: the driver is off until the control loop runs


def main():
    try:
        import board_esp32
        import powerup
    except ImportError as e:
        _halt(None, e)
    board = board_esp32.Esp32Board()
    if not powerup.boot(board):
        return  # the service mode: the REPL takes the console
    powerup = None
    try:
        import manifest
        import store

        problem = manifest.check(store.DirFS(board.code_root), store.DirFS(manifest.ROM))[1]
    except ImportError as e:
        problem = "cannot be checked: %s" % e
    manifest = None
    _drop_boot_modules()
    try:
        from app import App
    except ImportError as e:  # the app reports a mismatch itself, when it can run
        _halt(board, "%s (firmware manifest: %s)" % (e, problem or "matches"))
    App(board).run()


# pyexec turns Ctrl-C on again for each file it runs (micropython
# shared/runtime/pyexec.c line 128 at 1c3c201): off again here, and one that arrived
# before is raised in the loop, inside the try, and ignored (boot.py says why).
try:
    micropython.kbd_intr(-1)
    for _ in range(2):
        pass
except KeyboardInterrupt:
    pass
try:
    main()
except BaseException as e:  # never the REPL in normal operation: start again
    import sys

    import machine

    sys.print_exception(e)  # pyright: ignore[reportAttributeAccessIssue]
    machine.reset()
