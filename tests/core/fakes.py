"""The shared test fakes: each stands in for one edge of the real system, with only the
behaviour the real part has, so the code above it runs unchanged.

- MemFS: store's fs interface (open/rename/remove/exists/listdir) over a dict of
  bytearrays, its files read as real ones are (read, readinto, readline); the power
  can fail mid-write or at the rename, like flash under a cut.
- scratch_fs() / remove_scratch(): the real DirFS on a fresh directory under build/.
- FakeI2C: machine.I2C's readfrom_mem_into / writeto_mem over one device's register
  file, with a log of the transactions and bus errors on demand.

No pytest here: these run on CPython and on the MicroPython unix port
(tests/mpy_runner.py). Anything imported by more than one test file lives here, not in
a test module.
"""

import os

from store import DirFS

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_BUILD = _HERE + "/../../build"

_EIO = 5
_ENOENT = 2


# ------------------------------------------------------------ storage


class MemFS:
    """The fs interface over a dict of bytearrays. Files live in `files`, so a new MemFS
    over the same dict is the same flash after a reboot.

    fail_after_bytes: power fails once this many more bytes have been written (the
    partial data stays, like a real cut); fail_rename: power fails at the rename.
    After the cut every operation raises OSError(EIO), cleanup included.
    """

    def __init__(self, files=None, fail_after_bytes=-1, fail_rename=False, fail_read=False):
        self.files = {} if files is None else files
        self.budget = fail_after_bytes
        self.fail_rename = fail_rename
        self.fail_read = fail_read
        self.dead = False

    def _alive(self):
        if self.dead:
            raise OSError(_EIO)

    def open(self, name, mode):
        self._alive()
        if "r" in mode:
            if name not in self.files:
                raise OSError(_ENOENT)
            if self.fail_read:
                raise OSError(_EIO)
            return _MemFile(self, bytes(self.files[name]), None)
        self.files[name] = bytearray()
        return _MemFile(self, None, self.files[name])

    def rename(self, a, b):
        self._alive()
        if self.fail_rename:
            self.dead = True
            raise OSError(_EIO)
        if a not in self.files:
            raise OSError(_ENOENT)
        self.files[b] = self.files.pop(a)

    def remove(self, name):
        self._alive()
        if name not in self.files:
            raise OSError(_ENOENT)
        del self.files[name]

    def exists(self, name):
        self._alive()
        return name in self.files

    def isdir(self, name):
        self._alive()
        return False  # a flat store: no directories

    def listdir(self):
        self._alive()
        return list(self.files)


class MemNVS:
    """The board's NVS as firmware/setupmarks.py uses it (board_esp32.Nvs: get(key) ->
    int or None, set(key, value), OSError on failure), over a dict that outlives the
    filesystem, as the chip's NVS partition does. fail: every call raises OSError(EIO)."""

    def __init__(self, values=None):
        self.values = {} if values is None else values
        self.fail = False

    def get(self, key):
        if self.fail:
            raise OSError(_EIO)
        return self.values.get(key)

    def set(self, key, value):
        if self.fail:
            raise OSError(_EIO)
        self.values[key] = int(value)


class NoSpaceFS(MemFS):
    """A MemFS whose writes fail (ENOSPC at open) while reads, renames and removes
    work: a full or worn flash, not a power cut."""

    def open(self, name, mode):
        if "w" in mode:
            raise OSError(28)
        return MemFS.open(self, name, mode)


class _MemFile:
    def __init__(self, fs, data, buf):
        self.fs = fs
        self.data = data
        self.buf = buf
        self.pos = 0  # reads go on from where the last one ended, as on a real file

    def read(self, n=-1):
        start = self.pos
        self.pos = len(self.data) if n < 0 else min(len(self.data), start + n)
        return self.data[start:self.pos]

    def readinto(self, b):
        chunk = self.read(len(b))
        b[:len(chunk)] = chunk
        return len(chunk)

    def readline(self, n=-1):
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        if 0 <= n < end - self.pos:
            end = self.pos + n
        return self.read(end - self.pos)

    def write(self, b):
        fs = self.fs
        fs._alive()
        if 0 <= fs.budget < len(b):
            self.buf.extend(b[:fs.budget])
            fs.budget = 0
            fs.dead = True
            raise OSError(_EIO)
        self.buf.extend(b)
        if fs.budget >= 0:
            fs.budget -= len(b)
        return len(b)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def scratch_fs(tag):
    """A DirFS on a fresh directory build/scratch/<tag>_<random> (parallel runs differ)."""
    import binascii

    for d in (_BUILD, _BUILD + "/scratch"):
        try:
            os.mkdir(d)
        except OSError:
            pass  # already there
    path = _BUILD + "/scratch/" + tag + "_" + binascii.hexlify(os.urandom(4)).decode()
    os.mkdir(path)
    return DirFS(path)


def remove_scratch(fs):
    for n in os.listdir(fs.root):
        os.remove(fs.root + n)
    os.rmdir(fs.root[:-1])


# ------------------------------------------------------------ buses


class FakeI2C:
    def __init__(self, addr=0x68, regs=None):
        self.addr = addr  # the only address that answers; others raise ENODEV
        self.mem = bytearray(256)  # register file
        self.writes = []  # (addr, reg, bytes) of every write, in order
        self.reads = []  # (addr, reg, length) of every read, in order (off when log_reads=False)
        self.log_reads = True
        self._fail_errno = 0
        self._fail_count = 0
        if regs:
            for reg in regs:
                self.set(reg, regs[reg])

    def set(self, reg, data):
        """Put bytes (or one int) into the register file from reg on."""
        if isinstance(data, int):
            data = bytes((data,))
        for i in range(len(data)):
            self.mem[reg + i] = data[i]

    def fail(self, errno, count=1):
        """The next `count` transactions raise OSError(errno); count < 0: until fail(0)."""
        self._fail_errno = errno
        self._fail_count = count if errno else 0

    def _check(self, addr):
        if self._fail_count:
            if self._fail_count > 0:
                self._fail_count -= 1
            raise OSError(self._fail_errno)
        if addr != self.addr:
            raise OSError(19)  # ENODEV: nobody acknowledged the address

    def readfrom_mem_into(self, addr, reg, buf):
        self._check(addr)
        if self.log_reads:
            self.reads.append((addr, reg, len(buf)))
        for i in range(len(buf)):
            buf[i] = self.mem[reg + i]

    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        self.writes.append((addr, reg, bytes(buf)))
        for i in range(len(buf)):
            self.mem[reg + i] = buf[i]

    def written(self):
        """The writes as (reg, value) pairs, one per byte written (single-byte writes)."""
        out = []
        for _addr, reg, data in self.writes:
            for i in range(len(data)):
                out.append((reg + i, data[i]))
        return out
