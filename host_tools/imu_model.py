"""An MPU-6050 on the table, at register level, and the fake I2C bus it answers on.

Owns: turning the true table angle and rate into the bytes the part would return
(ACCEL_XOUT_H..GYRO_ZOUT_L, big-endian int16), with the datasheet's noise, zero offsets,
quantisation and clipping; the registers the driver writes at init (and their effect);
and the bus faults a real installation shows. The real firmware driver
(firmware/mpu6050.py) runs unchanged on top of `FakeI2C`.

Mounting (the estimator's convention, firmware/estimator.py): the sensor tilt theta is
the right-hand rotation about the pivot axis imu.axis, zero when the "level" axis points
up (z for pivot x or y: board flat; y for pivot z: board on edge), and
    theta = imu.sign * (table angle + mount_offset_mdeg)
so the accelerometer reads 1 g "up" in sensor axes:
    pivot x: (0, sin theta, cos theta)    pivot y: (-sin theta, 0, cos theta)
    pivot z: (sin theta, cos theta, 0)
and the gyro about the pivot axis reads imu.sign * table rate. (The sensor is taken to
sit on the pivot axis: the table's own accelerations are left out.) A calibration with
imu_zero_mdeg = mount_offset_mdeg cancels the mounting offset.

Numbers (hardware/table_params.json, imu and physics sections):
- white noise per sample, sigma = density * sqrt(bandwidth), bandwidth from the DLPF_CFG
  the driver wrote (accel: accel_noise_ug_rthz, gyro: gyro_noise_mdps_rthz);
- zero offsets per axis, uniform in +-tolerance * bias_scale (accel_zero_offset_mg,
  gyro_zero_offset_mdps; bias_scale CALIBRATED_BIAS_SCALE by default, 1.0 for a worst-case
  part), drawn once
  from the seeded rng: they are properties of the part and survive power cycles;
- while the motor turns, drive vibration with sigma physics.vibration_mg on each accel axis;
- quantisation to the configured full scale (LSB/g = 32768 / fs, 16384 at +-2 g; gyro
  131/65.5/32.8/16.4 LSB/dps, PS-MPU-6000A table 6.1) and clipping at +-32768.
The register map facts (addresses, reset values, the DLPF bandwidth table) are the
part's, from RM-MPU-6000A-00 rev 4.2.

Timing: the data registers hold the latest sample; a new sample is taken at the first
read after each sample instant (every 1+SMPLRT_DIV ms with the DLPF on), from the true
state of that millisecond. The DLPF's few ms of delay is not modelled. The part powers up
asleep (PWR_MGMT_1 = 0x40): until the driver wakes it, the data registers read zero.

Faults, each switchable at any time with `set_fault(name, on)`:
- "no_response": every transaction raises OSError(19) (ENODEV), as a missing device;
- "timeout":     every transaction raises OSError(110) (ETIMEDOUT), as a stuck bus; the bus
                 first calls its `delay_hook(timeout_delay_ms)` (the time a real timeout
                 blocks; 0 by default);
- "frozen":      the data registers stop changing (same 14 bytes every read);
- "spikes":      each new sample has probability `spike_prob` of one axis reading a wild
                 value (uniform over the int16 range).
"""

import math
import random
import struct

try:
    import numpy as _np
except ImportError:  # the model then draws its noise one value at a time
    _np = None

ENODEV = 19
ETIMEDOUT = 110

# --- register map (RM-MPU-6000A-00 rev 4.2, section 3) ---
SMPLRT_DIV = 0x19
CONFIG = 0x1A
GYRO_CONFIG = 0x1B
ACCEL_CONFIG = 0x1C
ACCEL_XOUT_H = 0x3B
TEMP_OUT_H = 0x41
GYRO_XOUT_H = 0x43
GYRO_ZOUT_L = 0x48
PWR_MGMT_1 = 0x6B
PWR_MGMT_2 = 0x6C
WHO_AM_I = 0x75
WHO_AM_I_VALUE = 0x68
_DATA_LEN = GYRO_ZOUT_L - ACCEL_XOUT_H + 1  # 14
_PWR1_RESET = 0x40  # SLEEP set at power-up (RM 4.28)
_PWR1_DEVICE_RESET = 0x80
_PWR1_SLEEP = 0x40
# DLPF_CFG -> bandwidth in Hz (RM 4.3): accelerometer and gyroscope.
DLPF_ACCEL_HZ = (260, 184, 94, 44, 21, 10, 5, 260)
DLPF_GYRO_HZ = (256, 188, 98, 42, 20, 10, 5, 256)
ACCEL_FS_G = (2, 4, 8, 16)  # AFS_SEL
GYRO_FS_DPS = (250, 500, 1000, 2000)  # FS_SEL
GYRO_LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)  # PS-MPU-6000A table 6.1
_ROOM_C = 25.0  # the temperature register reads a room at this temperature
FAULTS = ("no_response", "timeout", "frozen", "spikes")


_DATA = struct.Struct(">7h")
_TWOPI = 2.0 * math.pi
_RAD_PER_DEG = math.pi / 180.0  # what math.radians() multiplies by
_log = math.log
_sin = math.sin
_cos = math.cos


def _int16(x):
    v = int(round(x))
    if v > 32767:
        return 32767
    if v < -32768:
        return -32768
    return v


_TEMP_RAW = _int16((_ROOM_C - 36.53) * 340.0)  # RM 4.18: T = TEMP_OUT / 340 + 36.53



# What the documented two-point calibration leaves of a part's offsets (issue #18): the
# simulated tables are commissioned (simboard.COMMISSIONED_SETTINGS), so their default IMU
# has this fraction of the datasheet's zero offsets. 0.05 (+-2.5 mg): at most 0.2 deg at
# the home switch, as the bench's calibration sweep measures after a real calibration of
# full-tolerance parts (angle_error_rest_max_mdeg_calibrated 147; 138 mdeg at the switch,
# fix18h); 0.1 reached 0.34 deg there, near homing's 0.35 deg agreement window.
CALIBRATED_BIAS_SCALE = 0.05

class GaussBlocks:
    """The standard normals rng.gauss(0.0, 1.0) would return, in the same order, drawn
    ahead in blocks: the same values, and (after attach()) the same rng state, as calling
    rng.gauss once per value.

    CPython's random() is MT19937's genrand_res53, and gauss() is Box-Muller on two of
    them; numpy's MT19937, loaded with the rng's state, gives the same 32-bit words, so a
    block of uniforms is made at once in C. The Box-Muller arithmetic is done with the
    same IEEE operations (products and the square root in numpy, which round exactly;
    log, cos and sin with the math module, as gauss does), so every value is the same bit
    for bit. Meanwhile the rng itself is detached (left behind); attach() brings it to the
    state the calls would have left, before anything else draws from it.

    z: the values, next at index i; take(k) for k values past the end of z."""

    BLOCK_PAIRS = 2048  # about 400 samples of six draws per block

    def __init__(self, rng):
        self.rng = rng
        self.z = []  # values drawn ahead; z[:i] are used
        self.i = 0
        self._lead = 0  # 1 if z[0] was the rng's pending gauss_next at detach
        self._block = None  # the bit generator's state where this block's pairs start
        self._gen = None  # numpy MT19937, at the end of this block's pairs
        self.detached = False

    def take(self, k):
        """Use k more values: returns (list, index) of where they lie in order."""
        z = self.z
        i = self.i
        if i + k <= len(z):
            self.i = i + k
            return z, i
        out = z[i:]  # the rest of this block, then the next ones
        while True:
            self.i = len(self.z)
            self._next_block()
            need = k - len(out)
            if need <= len(self.z):
                out += self.z[:need]
                self.i = need
                return out, 0
            out += self.z

    def attach(self):
        """Bring the rng to the state the calls so far would have left; stop drawing
        ahead (the next take() starts a new block from there)."""
        if not self.detached:
            return
        used = self.i - self._lead  # values of this block's pairs used
        pending = None
        if used < 0:  # the rng's own pending value was not used yet
            pending = self.z[self.i]
            pairs = 0
        else:
            pairs = (used + 1) >> 1
            if used & 1:
                pending = self.z[self.i]  # the second of a pair whose first was used
        gen = self._gen
        gen.state = self._block
        if pairs:
            gen.random_raw(4 * pairs)  # two uniforms per pair, two words per uniform
        st = gen.state["state"]
        self.rng.setstate((3, tuple(st["key"].tolist()) + (int(st["pos"]),), pending))
        self.z = []
        self.i = 0
        self._lead = 0
        self.detached = False

    def _next_block(self):
        if not self.detached:
            # detach: start from the rng's state (its pending value comes first)
            version, words, pending = self.rng.getstate()
            gen = self._gen
            if gen is None:
                gen = self._gen = _np.random.MT19937()
            gen.state = {"bit_generator": "MT19937",
                         "state": {"key": _np.array(words[:624], dtype=_np.uint32),
                                   "pos": words[624]}}
            self.detached = True
            head = [] if pending is None else [pending]
        else:
            head = []  # the previous block is used up to its last pair
        self._block = self._gen.state
        self.z = head + _gauss_block(self._gen, self.BLOCK_PAIRS)
        self._lead = len(head)
        self.i = 0


def _gauss_block(gen, n):
    """2n standard normals from the bit generator gen, as random.gauss makes them from
    random(): z = cos(2 pi u1) * sqrt(-2 log(1 - u2)), then sin() of the same."""
    raw = gen.random_raw(4 * n)
    # genrand_res53: (a >> 5) * 2**26 + (b >> 6), over 2**53 (exact in a double)
    u = ((raw[0::2] >> 5) * 67108864.0 + (raw[1::2] >> 6)) / 9007199254740992.0
    x2pi = u[0::2] * _TWOPI
    g2rad = _np.sqrt(-2.0 * _np.fromiter(map(_log, (1.0 - u[1::2]).tolist()), float, n))
    xl = x2pi.tolist()
    z = _np.empty(2 * n)
    z[0::2] = _np.fromiter(map(_cos, xl), float, n)
    z[1::2] = _np.fromiter(map(_sin, xl), float, n)
    z[0::2] *= g2rad
    z[1::2] *= g2rad
    return z.tolist()


def _blocks_exact():
    """True if GaussBlocks reproduces this interpreter's random.Random.gauss and its
    state exactly (checked once at import; if not, the model draws one value at a time)."""
    if _np is None:
        return False
    try:
        a = random.Random(2025)
        b = random.Random(2025)
        a.gauss(0.0, 1.0)  # a value pending at detach
        b.gauss(0.0, 1.0)
        g = GaussBlocks(b)
        g.BLOCK_PAIRS = 3  # small blocks: their boundaries are crossed
        got = []
        want = []
        # counts to take; 0: attach and draw from the rng itself in between
        for k in (1, 4, 5, 0, 2, 9, 0, 3, 7, 6):
            if k:
                z, i = g.take(k)
                got += z[i:i + k]
                want += [a.gauss(0.0, 1.0) for _ in range(k)]
            else:
                g.attach()
                got.append(b.random())
                want.append(a.random())
        g.attach()
        return got == want and a.getstate() == b.getstate()
    except Exception:
        return False


_BLOCKS_EXACT = _blocks_exact()


class Mpu6050Model:
    """The part. `update()` once per simulated ms with the truth; the bus reads registers.

    rng is the part's own random stream: its noise is drawn ahead from it in blocks
    (GaussBlocks), so nothing else may draw from it meanwhile; `_rng` hands it out
    brought up to date."""

    def __init__(self, params, rng, bias_scale=None, mount_offset_mdeg=0.0):
        imu = params.imu
        self._random = rng  # (self._rng: the same, brought up to date first)
        self.addr = imu.i2c_addr
        axis = imu.axis
        if axis not in ("x", "y", "z"):
            raise ValueError("imu.axis must be x, y or z, not %r" % (axis,))
        self.axis = "xyz".index(axis)
        self.sign = imu.sign
        self.mount_offset_mdeg = float(mount_offset_mdeg)
        self.accel_density_g = imu.accel_noise_ug_rthz * 1e-6
        self.gyro_density_dps = imu.gyro_noise_mdps_rthz * 1e-3
        self.vibration_g = params.physics.vibration_mg * 1e-3
        self.bias_scale = float(CALIBRATED_BIAS_SCALE if bias_scale is None else bias_scale)
        acc_tol = imu.accel_zero_offset_mg * 1e-3 * self.bias_scale
        gyro_tol = imu.gyro_zero_offset_mdps * 1e-3 * self.bias_scale
        self.accel_bias_g = [rng.uniform(-acc_tol, acc_tol) for _ in range(3)]
        self.gyro_bias_dps = [rng.uniform(-gyro_tol, gyro_tol) for _ in range(3)]
        self.faults = dict.fromkeys(FAULTS, False)
        self.spike_prob = 0.05
        self.spikes_injected = 0
        self.reads = 0
        self._t_ms = 0
        self._angle_mdeg = 0.0
        self._rate_mdeg_s = 0.0
        self._vibrating = False
        # the noise drawn ahead in blocks (the same values): a plain random.Random only
        self._blocks = GaussBlocks(rng) if _BLOCKS_EXACT and type(rng) is random.Random \
            else None
        self._cfg_key = None  # the configuration registers _cfg was derived from
        self._cfg = None
        self.power_on_reset()

    # ------------------------------------------------------------ life cycle

    def power_on_reset(self):
        """Power applied: registers at their reset values, the part asleep."""
        self.regs = bytearray(128)
        self.regs[PWR_MGMT_1] = _PWR1_RESET
        self.regs[WHO_AM_I] = WHO_AM_I_VALUE
        self._sample_slot = None
        self._frozen_bytes = None

    @property
    def _rng(self):
        """The part's random stream, at the state the draws so far leave it in (the
        noise drawn ahead in blocks is given back first)."""
        if self._blocks is not None:
            self._blocks.attach()
        return self._random

    def update(self, t_ms, angle_mdeg, rate_mdeg_s, vibrating):
        """The truth at virtual time t_ms (absolute ms); cheap, no noise drawn here."""
        self._t_ms = t_ms
        self._angle_mdeg = angle_mdeg
        self._rate_mdeg_s = rate_mdeg_s
        self._vibrating = vibrating

    def set_fault(self, name, on=True):
        if name not in self.faults:
            raise ValueError("unknown IMU fault %r; one of %s" % (name, ", ".join(FAULTS)))
        self.faults[name] = bool(on)
        if name == "frozen":
            self._frozen_bytes = bytes(self._data()) if on else None

    # ------------------------------------------------------------ configuration

    @property
    def asleep(self):
        return bool(self.regs[PWR_MGMT_1] & _PWR1_SLEEP)

    @property
    def dlpf_cfg(self):
        return self.regs[CONFIG] & 7

    @property
    def accel_fs_g(self):
        return ACCEL_FS_G[(self.regs[ACCEL_CONFIG] >> 3) & 3]

    @property
    def accel_lsb_per_g(self):
        return 32768.0 / self.accel_fs_g

    @property
    def gyro_lsb_per_dps(self):
        return GYRO_LSB_PER_DPS[(self.regs[GYRO_CONFIG] >> 3) & 3]

    @property
    def accel_noise_g(self):
        """Per-sample sigma of the accelerometer noise at the current DLPF setting."""
        return self.accel_density_g * self._config()[1]

    @property
    def gyro_noise_dps(self):
        return self.gyro_density_dps * self._config()[2]

    @property
    def sample_period_ms(self):
        div = self.regs[SMPLRT_DIV] + 1
        if 1 <= self.dlpf_cfg <= 6:
            return div  # 1 kHz gyro output rate with the DLPF on
        return max(1, (div + 7) // 8)  # 8 kHz: at most one new sample per simulated ms

    def _config(self):
        """(sample period ms, sqrt of the accel and gyro bandwidths, accel LSB/g, gyro
        LSB/dps) for the configuration registers as they are now; derived again only
        when SMPLRT_DIV..ACCEL_CONFIG changed (they are compared at every sample)."""
        key = self.regs[SMPLRT_DIV : ACCEL_CONFIG + 1]
        if key != self._cfg_key:
            dlpf = self.dlpf_cfg
            self._cfg = (self.sample_period_ms, math.sqrt(DLPF_ACCEL_HZ[dlpf]),
                         math.sqrt(DLPF_GYRO_HZ[dlpf]), self.accel_lsb_per_g,
                         self.gyro_lsb_per_dps)
            self._cfg_key = key
        return self._cfg

    # ------------------------------------------------------------ the truth, in sensor axes

    def true_accel_g(self):
        """(x, y, z) specific force in g of a still table, without noise or offsets."""
        theta = math.radians(self.sign * (self._angle_mdeg + self.mount_offset_mdeg) / 1000.0)
        s = math.sin(theta)
        c = math.cos(theta)
        if self.axis == 0:
            return (0.0, s, c)
        if self.axis == 1:
            return (-s, 0.0, c)
        return (s, c, 0.0)

    def true_gyro_dps(self):
        g = [0.0, 0.0, 0.0]
        g[self.axis] = self.sign * self._rate_mdeg_s / 1000.0
        return tuple(g)

    # ------------------------------------------------------------ registers

    def read(self, reg, n):
        """Bytes of n registers from reg (auto-increment), as one bus transaction."""
        faults = self.faults
        if faults["no_response"] or faults["timeout"]:
            self._check_bus()
        self.reads += 1
        if reg == ACCEL_XOUT_H and n == _DATA_LEN:
            return self._data()  # the burst read of every tick: exactly the data block
        out = bytearray(n)
        data = None
        for i in range(n):
            r = (reg + i) & 0x7F
            if ACCEL_XOUT_H <= r <= GYRO_ZOUT_L:
                if data is None:
                    data = self._data()
                out[i] = data[r - ACCEL_XOUT_H]
            else:
                out[i] = self.regs[r]
        return bytes(out)

    def write(self, reg, data):
        self._check_bus()
        for i in range(len(data)):
            r = (reg + i) & 0x7F
            v = data[i] & 0xFF
            if r == WHO_AM_I or ACCEL_XOUT_H <= r <= GYRO_ZOUT_L:
                continue  # read-only
            if r == PWR_MGMT_1 and v & _PWR1_DEVICE_RESET:
                self.power_on_reset()  # DEVICE_RESET: all registers to defaults
                continue
            self.regs[r] = v

    def _check_bus(self):
        if self.faults["no_response"]:
            raise OSError(ENODEV)
        if self.faults["timeout"]:
            raise OSError(ETIMEDOUT)

    def _data(self):
        """The 14 data bytes now: a new sample if a sample instant has passed."""
        if self._frozen_bytes is not None:
            return self._frozen_bytes
        regs = self.regs
        if regs[PWR_MGMT_1] & _PWR1_SLEEP:
            return bytes(regs[ACCEL_XOUT_H : GYRO_ZOUT_L + 1])
        cfg = self._cfg
        if regs[SMPLRT_DIV : ACCEL_CONFIG + 1] != self._cfg_key:
            cfg = self._config()  # the configuration registers changed
        slot = self._t_ms // cfg[0]
        if slot != self._sample_slot:
            self._sample_slot = slot
            data = self._sample(cfg)
            regs[ACCEL_XOUT_H : GYRO_ZOUT_L + 1] = data
            return data
        return bytes(regs[ACCEL_XOUT_H : GYRO_ZOUT_L + 1])

    def _sample(self, cfg):
        """Draw a new sample: its 14 data bytes (big-endian int16).

        Written for speed (it runs at every tick of a simulated session): true_accel_g()
        and true_gyro_dps() inlined (_truth), the noise taken from the blocks drawn ahead
        (from the rng itself while the spikes fault is on). Standard normals, each times
        its sigma as rng.gauss(0.0, sigma) makes it, in this order per axis: accelerometer
        noise, drive vibration (while the motor turns), gyro noise."""
        _period, sqrt_bw_a, sqrt_bw_g, la, lg = cfg
        ax, ay, az, gx, gy, gz = self._truth()
        sg = self.gyro_density_dps * sqrt_bw_g
        gb = self.gyro_bias_dps
        spikes = self.faults["spikes"]
        a0, a1, a2, g0, g1, g2 = self._accel_and_gyro_noise(ax, ay, az, sqrt_bw_a, spikes)
        # round() of a float is int(round()): _int16 without the clipping, which the
        # packing checks (struct.error only for a value past the int16 range)
        raw = [round(a0 * la), round(a1 * la), round(a2 * la), _TEMP_RAW,
               round((gx + gb[0] + g0 * sg) * lg), round((gy + gb[1] + g1 * sg) * lg),
               round((gz + gb[2] + g2 * sg) * lg)]
        if spikes:
            self._spike(raw)
        try:
            return _DATA.pack(*raw)
        except struct.error:  # clipping at full scale
            return _DATA.pack(*[_int16(v) for v in raw])

    def _truth(self):
        """The true acceleration (g) and rate (deg/s) on the chip's axes (ax, ay, az, gx,
        gy, gz): gravity and the table's rate, the sensing axis and sign as mounted."""
        sign = self.sign
        theta = sign * (self._angle_mdeg + self.mount_offset_mdeg) / 1000.0 * _RAD_PER_DEG
        s = _sin(theta)
        c = _cos(theta)
        rate = sign * self._rate_mdeg_s / 1000.0
        axis = self.axis
        if axis == 0:
            return 0.0, s, c, rate, 0.0, 0.0
        if axis == 1:
            return -s, 0.0, c, 0.0, rate, 0.0
        return s, c, 0.0, 0.0, 0.0, rate

    def _accel_and_gyro_noise(self, ax, ay, az, sqrt_bw_a, spikes):
        """The accelerations with bias, noise and vibration (g), and the gyro's standard
        normals (g0, g1, g2), drawn in _sample's order."""
        sa = self.accel_density_g * sqrt_bw_a
        vib = self.vibration_g if self._vibrating else 0.0
        ab = self.accel_bias_g
        z, i = self._normals(9 if vib else 6, spikes)
        if vib:
            return (ax + ab[0] + z[i] * sa + z[i + 1] * vib,
                    ay + ab[1] + z[i + 3] * sa + z[i + 4] * vib,
                    az + ab[2] + z[i + 6] * sa + z[i + 7] * vib,
                    z[i + 2], z[i + 5], z[i + 8])
        return (ax + ab[0] + z[i] * sa, ay + ab[1] + z[i + 2] * sa, az + ab[2] + z[i + 4] * sa,
                z[i + 1], z[i + 3], z[i + 5])

    def _normals(self, k, spikes):
        """k standard normals: (a list, the index of the first)."""
        blocks = self._blocks
        if blocks is not None and not spikes:
            return blocks.take(k)
        # the rng itself: the spikes fault draws from it too, or another kind of rng
        gauss = self._rng.gauss
        return [gauss(0.0, 1.0) for _ in range(k)], 0

    def _spike(self, raw):
        """The spikes fault: now and then one raw value replaced by a random one."""
        rng = self._rng
        if rng.random() < self.spike_prob:
            raw[rng.choice((0, 1, 2, 4, 5, 6))] = rng.randint(-32768, 32767)
            self.spikes_injected += 1


class FakeI2C:
    """A machine.I2C look-alike with devices on it (duck-typed for firmware drivers)."""

    def __init__(self, *devices):
        self.devices = {d.addr: d for d in devices}
        self.delay_hook = None  # called with the ms a timing-out transaction blocks
        self.timeout_delay_ms = 0
        self.transactions = 0

    def _device(self, addr):
        self.transactions += 1
        dev = self.devices.get(addr)
        if dev is None:
            raise OSError(ENODEV)
        if dev.faults.get("timeout") and self.timeout_delay_ms and self.delay_hook:
            self.delay_hook(self.timeout_delay_ms)
        return dev

    def scan(self):
        return sorted(a for a, d in self.devices.items()
                      if not (d.faults.get("no_response") or d.faults.get("timeout")))

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        return self._device(addr).read(reg, n)

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        buf[:] = self._device(addr).read(reg, len(buf))

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        self._device(addr).write(reg, bytes(buf))
