"""The virtual device's board: runs under the MicroPython unix port, forwards to the physics.

This is MicroPython code (host_tools/vdev.py starts it with host_tools/mpy_board/
vdev_main.py). It implements the board interface firmware/app.py uses - the same as
host_tools/simboard.py and firmware/board_esp32.py - but the world it reads and drives
is the CPython SimBoard inside the vdev process, reached over a pair of pipes (the
link). The USB console is this process's stdin/stdout: a raw pseudo-terminal that the
vdev relays to build/ttyV, where mpremote and the console client connect.

Link protocol (host_tools/vdev_link.py is the other end). Every request is answered,
in order; all integers are little-endian, "i32" signed.
    request  = op (1 byte) | payload length (1 byte) | payload
    response = status (1 byte: 0 ok, else an errno) | payload length (1 byte) | payload
    H hello        -> reset_cause u8, ticks_ms i32, switches u8
    W wait_until   rate_sps i32, limit_lo i32, limit_hi i32, enable u8, led u8, buzzer u8,
                   fed u8, t_ms i32, heap_raw i32, heap_live i32
                   -> ticks_ms i32, switches u8, estop_edges i32, step_count i32
    (switches: the signals.SW_* bits, the ankle lock's (64) the highest: a u8 holds all)
    R i2c read     addr u8, reg u8, n u8          -> n bytes (status = errno on failure)
    X i2c write    addr u8, reg u8, data          -> nothing
    A wdt_arm      timeout_ms i32                 -> nothing
    E estop_rearm                                 -> nothing
    B reset        cause u8                       (no answer: the vdev restarts us)
    M maintenance  (the service mode: the loop does not start; the REPL takes over)
    N nvs get      key                            -> value i32 (status ENOENT: no such key)
    S nvs set      value i32, key                 -> nothing
    F fatal        text (an uncaught exception, e.g. MemoryError; the vdev reports it)

One round trip per tick carries wait_until, the outputs, the watchdog feed and the
inputs; the IMU's I2C transactions are forwarded one by one, so the real
firmware/mpu6050.py runs here. Outputs and the feed are sent with the next wait_until:
virtual time only moves inside wait_until, so the world sees them at the same instant
SimBoard would.

Heap: every wait_until samples gc.mem_alloc() (heap_raw: the live data plus whatever
this tick allocated), runs gc.collect() and samples again (heap_live: what survives the
tick). The vdev keeps the maxima. heap_live does not depend on when the GC would have
run, so it compares with a budget; heap_raw bounds the peak within a tick. The board's
own tick allocates nothing (its buffers are made once): the numbers are the firmware's.
"""

import gc
import os
import sys

from micropython import const

PWRON_RESET = const(1)
HARD_RESET = const(2)
WDT_RESET = const(3)
SOFT_RESET = const(5)  # what an ESP32 reports after machine.reset() (esp_restart)

MAINTENANCE_FLAG = "maintenance"  # the file firmware/board_esp32.py uses, same meaning
SERVICE_BANNER = ("inversion table: SERVICE MODE active (maintenance boot) - control loop, "
                  "watchdog and driver off, the table does not move; REPL, files and deploy "
                  "open until the next reset")
_ENOENT = const(2)
_EIO = const(5)
_MASK = const(0x3FFFFFFF)

_OP_HELLO = const(72)  # H
_OP_WAIT = const(87)  # W
_OP_I2C_READ = const(82)  # R
_OP_I2C_WRITE = const(88)  # X
_OP_WDT_ARM = const(65)  # A
_OP_REARM = const(69)  # E
_OP_RESET = const(66)  # B
_OP_MAINTENANCE = const(77)  # M
_OP_NVS_GET = const(78)  # N
_OP_NVS_SET = const(83)  # S
_OP_FATAL = const(70)  # F

_WAIT_LEN = const(28)  # payload bytes of W (offsets: see VdevBoard.wait_until)
_WAIT_REPLY_LEN = const(13)
_CTRL_C = const(3)

current = None  # the board of this boot (vdev_machine.reset() uses it at the REPL)


class Nvs:
    """The chip's NVS (firmware/board_esp32.py's Nvs): kept by the vdev outside the
    board's filesystem (build/vdev/nvs.json), so deleting files never reaches it."""

    def __init__(self, board):
        self._board = board

    def get(self, key):
        b = self._board
        b.request(_OP_NVS_GET, key.encode())
        v = bytearray(4)
        status = b.reply(v)
        if status == _ENOENT:
            return None
        if status:
            raise OSError(status)
        return _get32(v, 0)

    def set(self, key, value):
        b = self._board
        v = bytearray(4)
        _put32(v, 0, value)
        b.request(_OP_NVS_SET, bytes(v) + key.encode())
        status = b.reply()
        if status:
            raise OSError(status)


def _put32(b, i, v):
    b[i] = v & 255
    b[i + 1] = (v >> 8) & 255
    b[i + 2] = (v >> 16) & 255
    b[i + 3] = (v >> 24) & 255


def _get32(b, i):
    v = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)
    if v & 0x80000000:
        v -= 0x100000000
    return v


class LinkError(Exception):
    """The vdev went away or answered out of protocol: this firmware must stop."""


class VdevBoard:
    """The board interface of firmware/app.py, on the virtual device. It is also the
    link's end (requests and replies over the two pipes) and the IMU's I2C bus (a
    machine.I2C look-alike whose transactions go to the simulated bus): one object, as
    every class and instance costs the 56K heap."""

    fs_root = ""  # the firmware's filesystem root: the vdev mounts build/vdev_fs at /
    code_root = ""  # deployed files and manifest.txt there, the built-in ones in /rom
    hw_params_path = "table_params.json"

    def __init__(self, link_rd, link_wr):
        """link_rd, link_wr: the link's pipes as files opened "rb" / "wb"."""
        import select

        global current
        current = self
        self._rd = link_rd
        self._wr = link_wr
        self._hdr = bytearray(2)
        self.wait_req = bytearray(2 + _WAIT_LEN)  # sent by wait_until (layout there)
        self.wait_req[0] = _OP_WAIT
        self.wait_req[1] = _WAIT_LEN
        self._wait_reply = bytearray(_WAIT_REPLY_LEN)
        self._i2c_req = bytearray(5)
        self._i2c_req[0] = _OP_I2C_READ
        self._i2c_req[1] = 3
        self._bare = bytearray(2)  # a request without payload
        self.request(_OP_HELLO)
        hello = bytearray(6)
        if self.reply(hello):
            raise LinkError("hello refused")
        self._cause = hello[0]
        self._now = _get32(hello, 1) & _MASK
        self._switches = hello[5]
        self._edges = 0
        self._steps = 0
        self._fed = 0
        # the IMU: the real driver (firmware/mpu6050.py) on the forwarded bus (this
        # object), built on first use and initialised until it answers, as SimBoard does
        self._imu = None
        self._imu_ready = False
        # the console: stdin is a raw pty; Ctrl-C arrives as a byte (no signal)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._stdin = sys.stdin.buffer
        self._stdout = sys.stdout.buffer
        self._one = bytearray(1)
        self.nvs = Nvs(self)

    # ---------------------------------------------------------------- the link

    def _read_exact(self, buf):
        n = self._rd.readinto(buf)
        if not n:
            raise LinkError("link closed")
        if n < len(buf):  # a split read (rare): finish it, allocating a view
            mv = memoryview(buf)
            while n < len(buf):
                k = self._rd.readinto(mv[n:])
                if not k:
                    raise LinkError("link closed")
                n += k

    def reply(self, buf=None):
        """Read one response: its status; the payload goes into buf (of its length)."""
        self._read_exact(self._hdr)
        status = self._hdr[0]
        n = self._hdr[1]
        if buf is not None and n == len(buf):
            if n:
                self._read_exact(buf)
            return status
        if n:
            self._read_exact(bytearray(n))  # not what we expected: drop it
        if status == 0 and buf is not None:
            raise LinkError("reply of %d bytes, expected %d" % (n, len(buf)))
        return status

    def request(self, op, data=None):
        """Send one request (op, optional payload); read the answer with reply()."""
        if data is None:
            b = self._bare
            b[0] = op
            b[1] = 0
            self._wr.write(b)
            return
        if len(data) > 255:
            data = data[:255]
        self._wr.write(bytes((op, len(data))) + bytes(data))

    # ---------------------------------------------------------------- I2C (the IMU's bus)

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        q = self._i2c_req
        q[2] = addr
        q[3] = reg
        q[4] = len(buf)
        self._wr.write(q)
        status = self.reply(buf)
        if status:
            raise OSError(status)

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self.request(_OP_I2C_WRITE, bytes((addr, reg)) + bytes(buf))
        status = self.reply()
        if status:
            raise OSError(status)

    # ---------------------------------------------------------------- time

    def ticks_ms(self):
        return self._now

    def wait_until(self, t_ms):
        """One round trip: outputs, feed and heap out; virtual time to t_ms; inputs in.

        Layout of the W payload in self.wait_req: [2] rate_sps, [6] limit_lo,
        [10] limit_hi, [14] enable, [15] led, [16] buzzer (apply_outputs), [17] fed,
        [18] t_ms, [22] heap_raw, [26] heap_live."""
        w = self.wait_req
        raw = gc.mem_alloc()
        gc.collect()
        live = gc.mem_alloc()
        w[17] = self._fed
        self._fed = 0
        _put32(w, 18, t_ms)
        _put32(w, 22, raw)
        _put32(w, 26, live)
        self._wr.write(w)
        r = self._wait_reply
        if self.reply(r):
            raise LinkError("wait_until refused")
        self._now = _get32(r, 0) & _MASK
        self._switches = r[4]
        self._edges = _get32(r, 5)
        self._steps = _get32(r, 9)

    # ---------------------------------------------------------------- inputs, outputs

    def read_inputs(self, inp):
        inp.switches = self._switches
        inp.estop_edges = self._edges
        inp.step_count = self._steps
        if self._imu is None:
            self._imu = self._make_imu()
            self._imu_ready = False
        if not self._imu_ready:
            try:
                self._imu.init()
                self._imu_ready = True
            except OSError as e:
                from mpu6050 import errno_of

                inp.imu_error = errno_of(e)
                return
            except ValueError:
                inp.imu_error = _EIO
                return
        self._imu.read_into(inp)

    def _make_imu(self):
        import json

        from mpu6050 import from_params

        with open(self.hw_params_path) as f:
            imu = json.load(f)["imu"]
        return from_params(self, imu)

    def apply_outputs(self, out):
        w = self.wait_req  # sent with the next wait_until, at the same virtual time
        _put32(w, 2, out.rate_sps)
        _put32(w, 6, out.limit_lo)
        _put32(w, 10, out.limit_hi)
        w[14] = 1 if out.enable else 0
        w[15] = out.led & 255
        w[16] = out.buzzer & 255
        if out.estop_rearm:
            self.estop_rearm()

    def estop_rearm(self):
        self.request(_OP_REARM)
        self.reply()

    # ---------------------------------------------------------------- console

    def console_read_into(self, buf):
        """Non-blocking: the bytes waiting on the console, at most len(buf), and never
        past a Ctrl-C: what follows it (mpremote's Ctrl-A) is left for the REPL."""
        n = 0
        one = self._one
        end = len(buf)
        while n < end and self._ready():
            if not self._stdin.readinto(one):
                break
            buf[n] = one[0]
            n += 1
            if one[0] == _CTRL_C:
                break
        return n

    def _ready(self):
        for _ in self._poll.ipoll(0):
            return True
        return False

    def console_write(self, data):
        self._stdout.write(data)

    # ---------------------------------------------------------------- watchdog, resets

    def wdt_arm(self, timeout_ms):
        b = bytearray(4)
        _put32(b, 0, timeout_ms)
        self.request(_OP_WDT_ARM, b)
        self.reply()

    def wdt_feed(self):
        self._fed = 1

    def reset_cause(self):
        return self._cause

    def reset(self):
        """machine.reset() on the ESP32: the vdev restarts this firmware (SOFT_RESET, the
        cause an ESP32 reports after esp_restart())."""
        self.request(_OP_RESET, bytes((SOFT_RESET,)))
        import time

        while True:  # the vdev kills this process: nothing runs after a reset
            time.sleep(1)

    def maintenance_requested(self):
        """The flag file the console's `maintenance <pin>` left: consumed (one service
        boot per request). The buttons held at power-up are read by firmware/powerup.py."""
        try:
            os.remove(MAINTENANCE_FLAG)
            return True
        except OSError:
            return False

    def maintenance_banner(self):
        """The service mode: the vdev marks it; the REPL takes the console (vdev_boot)."""
        self.request(_OP_MAINTENANCE)
        self.reply()
        print(SERVICE_BANNER)

    def enter_maintenance(self):
        with open(MAINTENANCE_FLAG, "w") as f:
            f.write("pin")
        self.reset()

    # ---------------------------------------------------------------- the vdev

    def fatal(self, text):
        """Tell the vdev the firmware died (it reports and records it)."""
        try:
            self.request(_OP_FATAL, text.encode()[:255])
            self.reply()
        except Exception:
            pass
