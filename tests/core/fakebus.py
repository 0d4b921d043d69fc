"""A fake I2C bus for driver tests: one device's register file, a log of writes, errors on demand.

Duck-types machine.I2C's readfrom_mem_into / writeto_mem. Runs on CPython and on the
MicroPython unix port. Reads copy byte by byte so a successful read allocates nothing
(the driver allocation tests measure the driver, not the fake).
"""


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
