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
# Then vdev_boot (from /rom, with the firmware) does what main.py does on a board. This
# script is compiled from source into the heap, so it is kept to the mounts: no
# functions, nothing left once it has run.
import sys

import vfs

_link_in, _link_out, _fs_root, _code = sys.argv[1:5]
# the link's pipes, opened while the host's /dev is still reachable
_rd = open("/dev/fd/" + _link_in, "rb")
_wr = open("/dev/fd/" + _link_out, "wb")
if _code.startswith("rom:"):
    import uctypes

    _, _addr, _size = _code.split(":")
    _code_fs = vfs.VfsRom(uctypes.bytearray_at(int(_addr), int(_size)))
else:
    _code_fs = vfs.VfsPosix(_code[6:] if _code.startswith("posix:") else _code)
vfs.umount("/")
vfs.mount(vfs.VfsPosix(_fs_root), "/")
vfs.mount(_code_fs, "/rom")
import os  # noqa: E402

os.chdir("/")
sys.path[:] = ["", "/rom"]
del _link_in, _link_out, _fs_root, _code, _code_fs
import vdev_boot  # noqa: E402

vdev_boot.run(_rd, _wr)
