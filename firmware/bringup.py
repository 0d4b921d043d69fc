"""The service mode's bring-up console: the control loop with the bring-up commands.

At the service mode's prompt (firmware/powerup.py: the REPL, no control loop), type
`import bringup; bringup.main()`: the application starts as in a normal boot - the
self-test, the watchdog, the core with every limit, clamp, commissioning check and
latch - and its console also accepts the bring-up commands of hardware/bringup.md
(firmware/console_service.py; therapist PIN). Ctrl-C is off again, as in normal
operation (firmware/main.py says why); `reboot` ends it with a normal boot.
"""

import micropython

# The board the service mode's boot left, where it has one to leave (the virtual
# device's: host_tools/mpy_board/vdev_boot.py); None: main() makes the ESP32's.
BOARD = None


def main(board=None):
    """Run the bring-up loop on board (None: BOARD, else the ESP32's). Never returns."""
    from app import App

    if board is None:
        board = BOARD
    if board is None:
        import board_esp32

        board = board_esp32.Esp32Board()
    micropython.kbd_intr(-1)
    App(board, service=True).run()
