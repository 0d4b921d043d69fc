"""Power-up entry point on the ESP32: a maintenance boot, or the control loop.

Maintenance boot (for deploy and diagnostics): hold START while powering up, or
leave the file `maintenance` on the board's filesystem (deploy writes it through the
console's `maintenance` command). It starts neither the control loop nor the
watchdog, removes the flag file so the next power-up is a normal one, and leaves
the REPL to mpremote.
"""

import board_esp32


def main():
    board = board_esp32.Esp32Board()
    if board.maintenance_requested():
        board.maintenance_banner()
        return
    from app import App

    App(board).run()


main()
