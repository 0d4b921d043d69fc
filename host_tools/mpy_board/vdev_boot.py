"""The virtual device's boot, after host_tools/mpy_board/vdev_main.py mounted the board's
filesystems: firmware/main.py's twin. MicroPython code, run from /rom with the firmware.

firmware/powerup.py decides, as on a board: the service mode (then this returns and
`-i` leaves the REPL to mpremote), the physical reset, or App(board).run(), which never
returns: no byte on the console reaches the REPL in normal operation. An exception out
of the firmware (MemoryError...) is printed on the console and reported to the vdev,
which shows it as a failure; the REPL is then left up for diagnosis, a difference from
a board, whose main.py resets instead (the vdev is a development tool, and a crashed
firmware is not normal operation).
"""

import sys


def _to_repl():
    # mpremote's `reset` runs machine.reset(): give the REPL a machine module that can.
    try:
        import vdev_machine

        sys.modules["machine"] = vdev_machine
    except Exception:
        pass


def _fatal(board, e):
    import gc

    gc.collect()
    sys.print_exception(e)
    try:
        text = "%s: %s" % (type(e).__name__, e)
    except Exception:
        text = "MemoryError"
    print("inversion table: FIRMWARE STOPPED: " + text)
    if board is not None:
        board.fatal(text)


def run(rd, wr):
    """rd, wr: the link's pipes, opened "rb" / "wb"."""
    board = None
    try:
        from board_vdev import VdevBoard

        board = VdevBoard(rd, wr)
        import powerup

        if powerup.boot(board):
            from app import App

            App(board).run()
        else:
            import bringup

            bringup.BOARD = board  # `bringup.main()` at the prompt runs on this board
    except Exception as e:
        if type(e).__name__ == "LinkError":
            sys.exit(3)  # the vdev is gone: nothing to report to
        if board is None:
            print("inversion table: FIRMWARE STOPPED before the board was up")
            sys.print_exception(e)
            sys.exit(4)
        _fatal(board, e)
    _to_repl()
