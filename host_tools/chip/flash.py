"""The SPI flash behind the filesystem: a write stalls the CPU with the cache off.

Owns the cost of the firmware's file writes and the record of each stall. A file the
firmware wrote is programmed when it is closed (littlefs commits on close/sync): each
started 4 KB block costs about 80 ms with the cache disabled (issue #19 and the
reference /work/shared/reference/micropython-esp32.md, "~80 ms per 4 KB write
reported"; an erase-heavy write may take longer), during which every non-IRAM ISR is
masked and no Python runs (core.Chip.stall). LEDC keeps pulsing meanwhile: `writes`
records, per stall, the STEP pulses that left the chip and the PCNT overflows (a crash
on the chip, periph.Pcnt) in it. The files themselves live in a host directory (the
test's working directory): renames and removes are metadata, modelled as free.
"""

import builtins

_BLOCK = 4096
_BLOCK_US = 80000


class _File:
    def __init__(self, flash, f, name):
        self._flash = flash
        self._f = f
        self._name = name
        self._n = 0

    def write(self, data):
        self._n += len(data)
        return self._f.write(data)

    def read(self, *a):
        return self._f.read(*a)

    def readinto(self, buf):
        return self._f.readinto(buf)

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
            self._flash.program(self._name, self._n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return iter(self._f)


class Flash:
    def __init__(self, chip):
        self._chip = chip
        self.writes = []  # (t0_us, t1_us, name, step pulses during, ledc running at start)
        self.block_us = _BLOCK_US

    def open(self, name, mode="r", *a, **kw):
        f = builtins.open(name, mode, *a, **kw)
        if "w" in mode or "a" in mode:
            return _File(self, f, name)
        return f

    def program(self, name, nbytes):
        chip = self._chip
        blocks = (nbytes + _BLOCK - 1) // _BLOCK or 1
        before = sum(ch.emitted for ch in chip.ledc.values())
        running = any(ch.running() for ch in chip.ledc.values())
        t0 = chip.now_us
        chip.stall(blocks * self.block_us)
        after = sum(ch.emitted for ch in chip.ledc.values())
        self.writes.append((t0, chip.now_us, name, after - before, running))
