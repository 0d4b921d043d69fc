"""Power-up entry point on the ESP32: the service mode, the physical reset, or the
control loop (firmware/powerup.py decides, from the buttons held at power-up and the
flag the console's `maintenance <pin>` leaves).

In normal operation this never returns and never ends in the REPL: Ctrl-C is no
keyboard interrupt (boot.py, board_esp32), and anything that escapes - a failure
before the loop runs, say - resets the board instead of leaving the REPL open to the
USB cable. Only the service mode returns, with the REPL on.
"""

import micropython

micropython.kbd_intr(-1)


def main():
    import board_esp32
    import powerup

    board = board_esp32.Esp32Board()
    if not powerup.boot(board):
        return  # the service mode: the REPL takes the console
    from app import App

    App(board).run()


try:
    main()
except BaseException as e:  # never the REPL in normal operation: start again
    import sys

    import machine

    sys.print_exception(e)  # pyright: ignore[reportAttributeAccessIssue]
    machine.reset()
