# The virtual device's power-up script (MicroPython unix port): firmware/main.py's twin.
#
# host_tools/vdev.py runs it as
#     micropython -X heapsize=56K -i vdev_main.py LINK_IN LINK_OUT FS_ROOT CODE
# on a raw pseudo-terminal (the console). It makes the filesystem look like a board's:
# FS_ROOT (build/vdev_fs) is mounted at / (the current directory), and CODE - the
# firmware compiled for this port - at /rom, either from a ROMFS image the launcher
# holds outside the GC heap ("rom:ADDR:SIZE": bytecode runs in place, as frozen or
# ROMFS code does on an ESP32) or from a directory of .mpy files ("posix:DIR": loaded
# into the heap, as .mpy files on an ESP32's littlefs are). sys.path is ['', '/rom']:
# files deployed to / win over /rom, as files on a board win over frozen ones.
#
# Then, as main.py: a maintenance boot, or App(board).run(). When that returns (Ctrl-C
# at the loading stop, a maintenance boot) or raises (MemoryError...), the script ends
# and `-i` leaves the REPL to mpremote. An exception is printed on the console and
# reported to the vdev, which shows it as a failure.
import sys


def _mount(fs_root, code):
    import os

    import vfs

    if code.startswith("rom:"):
        import uctypes

        _, addr, size = code.split(":")
        code_fs = vfs.VfsRom(uctypes.bytearray_at(int(addr), int(size)))
    else:
        code_fs = vfs.VfsPosix(code[6:] if code.startswith("posix:") else code)
    vfs.umount("/")
    vfs.mount(vfs.VfsPosix(fs_root), "/")
    vfs.mount(code_fs, "/rom")
    os.chdir("/")
    sys.path[:] = ["", "/rom"]


def _to_repl(board):
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


def main():
    link_in, link_out, fs_root, code = sys.argv[1:5]
    # the link's pipes, opened while the host's /dev is still reachable
    rd = open("/dev/fd/" + link_in, "rb")
    wr = open("/dev/fd/" + link_out, "wb")
    _mount(fs_root, code)
    board = None
    try:
        from board_vdev import VdevBoard

        board = VdevBoard(rd, wr)
        if board.maintenance_requested():
            board.maintenance_banner()
        else:
            from app import App

            App(board).run()
    except Exception as e:
        if type(e).__name__ == "LinkError":
            sys.exit(3)  # the vdev is gone: nothing to report to
        if board is None:
            print("inversion table: FIRMWARE STOPPED before the board was up")
            sys.print_exception(e)
            sys.exit(4)
        _fatal(board, e)
    _to_repl(board)


main()
