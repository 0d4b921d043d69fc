"""MPU-6050 register-level driver: configure it, read it into Inputs in place.

Owns: the MPU-6050's init sequence, its WHO_AM_I check, and the conversion of its
raw big-endian int16 samples to milli-g and milli-degrees per second. Also the
scale helpers (raw_to_mg, raw_to_mdps, int16_be, the scale tables) the ICM-42688-P
driver shares,
because both parts use the same 16-bit scales.

The I2C bus is passed in (duck-typed: readfrom_mem_into(addr, reg, buf) and
writeto_mem(addr, reg, buf), as machine.I2C). Buffers are allocated once; read_into()
allocates nothing on MicroPython unless the bus itself raises.

Errors: a bus failure during read_into() never raises - it sets inp.imu_error to the
errno (19 ENODEV: no device, 110 ETIMEDOUT: bus stuck) and counts it in self.errors.
init() raises OSError for bus failures and ValueError for a wrong device (WHO_AM_I)
or configuration that did not stick. The constructor raises ValueError for a
full-scale range, filter or sample rate the part does not have.

Sources: InvenSense RM-MPU-6000A-00 rev 4.2 (register map, "RM") and
PS-MPU-6000A-00 rev 3.4 (product specification, "PS").
"""

from micropython import const

# --- registers (RM section 3, register map table) ---
_SMPLRT_DIV = const(0x19)  # RM 4.2: sample rate = gyro output rate / (1 + SMPLRT_DIV)
_CONFIG = const(0x1A)  # RM 4.3: EXT_SYNC_SET [5:3], DLPF_CFG [2:0]
_GYRO_CONFIG = const(0x1B)  # RM 4.4: FS_SEL [4:3]
_ACCEL_CONFIG = const(0x1C)  # RM 4.5: AFS_SEL [4:3]
_ACCEL_XOUT_H = const(0x3B)  # RM 4.17-4.19: accel X,Y,Z, temp, gyro X,Y,Z: 14 bytes, big-endian
_PWR_MGMT_1 = const(0x6B)  # RM 4.28: DEVICE_RESET [7], SLEEP [6], CLKSEL [2:0]
_PWR_MGMT_2 = const(0x6C)  # RM 4.29: per-axis standby bits
_WHO_AM_I = const(0x75)  # RM 4.32: reads 0x68 whatever the AD0 pin (the address's low bit)

# WHO_AM_I of the parts this driver runs (Linux drivers/iio/imu/inv_mpu6050/
# inv_mpu_iio.h INV_*_WHOAMI_VALUE): MPU-6050, MPU-6000 and MPU-9150 0x68; MPU-6500 0x70
# (RM-MPU-6500A-00, WHO_AM_I; the die on many GY-521 "MPU-6050" boards), MPU-9250 0x71,
# MPU-9255 0x73, MPU-6515 0x74. All share the registers below; the 6500 family (every
# one but 0x68) filters the accelerometer by ACCEL_CONFIG2, not CONFIG.
_WHO_AM_I_VALUE = const(0x68)
WHO_AM_I_FAMILY = (0x68, 0x70, 0x71, 0x73, 0x74)
_ACCEL_CONFIG2 = const(0x1D)  # 6500 family: A_DLPF_CFG [2:0] (ACCEL_FCHOICE_B [3] = 0)
_DATA_LEN = const(14)

# PWR_MGMT_1 = 0x01: SLEEP cleared (the part powers up asleep, RM 4.28), CLKSEL = 1, the
# PLL on the X gyro; RM 4.28 "highly recommends" a gyro reference over the internal
# 8 MHz oscillator for stability.
_PWR_WAKE_PLL_X = const(0x01)
_PWR2_ALL_AXES_ON = const(0x00)  # no axis in standby (a previous program may have set some)

# The gyro output rate is 1 kHz whenever the DLPF is on (DLPF_CFG 1..6, RM 4.3); the
# sample rate divider divides that rate.
_GYRO_RATE_DLPF_HZ = const(1000)

DEFAULT_ADDR = const(0x68)  # AD0 low (hardware/table_params.json imu.i2c_addr)

# Full-scale ranges in register-code order (AFS_SEL / FS_SEL = index; RM 4.4, 4.5).
ACCEL_FS_G = (2, 4, 8, 16)
GYRO_FS_DPS = (250, 500, 1000, 2000)
# DLPF_CFG = index: accelerometer bandwidth in Hz (RM 4.3 table; gyro 188/98/42/20/10/5).
# 260 Hz (DLPF_CFG 0) is left out: it runs the gyro at 8 kHz and filters nothing useful.
DLPF_HZ = (None, 184, 94, 44, 21, 10, 5)

# mg = raw * 1000 / LSB_per_g with LSB/g = 16384 >> fs_index (PS table 6.2: 16384, 8192,
# 4096, 2048), so mg = (raw * 1000) >> (14 - fs_index): an exact power-of-two scale.
_ACC_SHIFT_2G = const(14)
# mdps = raw * 1000 / LSB_per_dps with LSB/dps = 131, 65.5, 32.8, 16.4 (PS table 6.1),
# as exact integer fractions: 1000/131, 2000/131, 1250/41, 2500/41.
GYRO_NUM = (1000, 2000, 1250, 2500)
GYRO_DEN = (131, 131, 41, 41)

_EIO = const(5)  # reported when an OSError carries no errno
_COUNT_MAX = const(0x3FFFFFFF)  # keep error counters small ints


def int16_be(buf, i):
    """The signed big-endian 16-bit value at buf[i], buf[i + 1]."""
    v = (buf[i] << 8) | buf[i + 1]
    if v & 0x8000:
        v -= 0x10000
    return v


def raw_to_mg(raw, shift):
    """Accelerometer raw count to milli-g, rounded; shift = 14 - full-scale index."""
    # |raw * 1000| <= 32768000 < 2**30: a small int on MicroPython.
    return (raw * 1000 + (1 << (shift - 1))) >> shift


def raw_to_mdps(raw, num, den):
    """Gyro raw count to milli-degrees per second, rounded half away from zero."""
    # |raw * num| <= 32768 * 2500 = 81920000 < 2**30.
    if raw >= 0:
        return (raw * num + (den >> 1)) // den
    return -((-raw * num + (den >> 1)) // den)


def fs_index(value, table, what):
    """Index of value in a full-scale/filter table, or ValueError naming the choices."""
    for i in range(len(table)):
        if table[i] is not None and table[i] == value:
            return i
    raise ValueError("%s %r not supported; choose one of %r" % (what, value, table))


def errno_of(e):
    """The errno an OSError carries (EIO if it carries none)."""
    code = e.args[0] if e.args else _EIO
    if type(code) is not int or code == 0:
        return _EIO
    return code


class MPU6050:
    """One MPU-6050 on an I2C bus.

    i2c: machine.I2C-like bus. addr: 7-bit address (0x68, or 0x69 with AD0 high).
    accel_fs_g: 2/4/8/16. gyro_fs_dps: 250/500/1000/2000. dlpf_hz: accelerometer DLPF
    bandwidth 184/94/44/21/10/5 Hz. sample_rate_hz: a divisor of 1000 between 4 and 1000.
    """

    def __init__(self, i2c, addr=DEFAULT_ADDR, accel_fs_g=2, gyro_fs_dps=250, dlpf_hz=44,
                 sample_rate_hz=100):
        self._i2c = i2c
        self.addr = addr
        self._afs = fs_index(accel_fs_g, ACCEL_FS_G, "MPU-6050 accel full scale (g)")
        self._gfs = fs_index(gyro_fs_dps, GYRO_FS_DPS, "MPU-6050 gyro full scale (dps)")
        self._dlpf = fs_index(dlpf_hz, DLPF_HZ, "MPU-6050 DLPF bandwidth (Hz)")
        if (type(sample_rate_hz) is not int or sample_rate_hz < 4
                or _GYRO_RATE_DLPF_HZ % sample_rate_hz):
            raise ValueError("MPU-6050 sample rate %r Hz must divide 1000 Hz (4..1000)"
                             % (sample_rate_hz,))
        self._div = _GYRO_RATE_DLPF_HZ // sample_rate_hz - 1  # 0..249, fits the 8-bit register
        self._acc_shift = _ACC_SHIFT_2G - self._afs
        self._g_num = GYRO_NUM[self._gfs]
        self._g_den = GYRO_DEN[self._gfs]
        self._buf = bytearray(_DATA_LEN)  # one burst read of all six axes (and temperature)
        self._one = bytearray(1)  # single-register writes and reads
        self._four = bytearray(4)  # read-back of SMPLRT_DIV..ACCEL_CONFIG
        self.errors = 0  # read_into() bus errors since construction
        self.last_errno = 0  # errno of the latest read_into() failure (0 = none yet)
        self.who_am_i = 0  # the identity init() found (0: not yet)

    def expected_config(self):
        """The bytes init() writes to SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG."""
        return bytes((self._div, self._dlpf, self._gfs << 3, self._afs << 3))

    def init(self):
        """Check WHO_AM_I, wake the part and configure it; raises OSError / ValueError."""
        who = self._read_reg(_WHO_AM_I)
        if who not in WHO_AM_I_FAMILY:
            raise ValueError("no MPU-6050 (or MPU-6500 family) at 0x%02x: WHO_AM_I reads "
                             "0x%02x, expected one of %r" % (self.addr, who, WHO_AM_I_FAMILY))
        self.who_am_i = who
        # Wake first: the part powers up asleep (RM 4.28: PWR_MGMT_1 resets to 0x40).
        self._write_reg(_PWR_MGMT_1, _PWR_WAKE_PLL_X)
        self._write_reg(_PWR_MGMT_2, _PWR2_ALL_AXES_ON)
        cfg = self.expected_config()
        self._write_reg(_SMPLRT_DIV, cfg[0])
        self._write_reg(_CONFIG, cfg[1])  # EXT_SYNC_SET = 0: FSYNC not used
        self._write_reg(_GYRO_CONFIG, cfg[2])  # self-test bits [7:5] cleared
        self._write_reg(_ACCEL_CONFIG, cfg[3])
        if who != _WHO_AM_I_VALUE:
            # the same bandwidth index: 6500 A_DLPF_CFG 1..6 = 184/92/41/20/10/5 Hz
            self._write_reg(_ACCEL_CONFIG2, self._dlpf)
        # Read the four configuration registers back: a clone or a half-dead part that
        # ignores writes would otherwise report at the wrong scale.
        self._i2c.readfrom_mem_into(self.addr, _SMPLRT_DIV, self._four)
        if bytes(self._four) != cfg:
            raise ValueError("MPU-6050 configuration did not stick: wrote %r, read %r"
                             % (cfg, bytes(self._four)))
        # PS table 6.1: gyro start-up time 30 ms. The first samples may be off; the
        # estimator's plausibility checks cover that, so no sleep here.

    def read_into(self, inp):
        """Burst-read one sample into inp (signals.Inputs). Never raises on a bus error."""
        try:
            self._i2c.readfrom_mem_into(self.addr, _ACCEL_XOUT_H, self._buf)
        except OSError as e:
            code = errno_of(e)
            inp.imu_error = code
            self.last_errno = code
            if self.errors < _COUNT_MAX:
                self.errors += 1
            return
        b = self._buf
        s = self._acc_shift
        inp.acc_x_mg = raw_to_mg(int16_be(b, 0), s)
        inp.acc_y_mg = raw_to_mg(int16_be(b, 2), s)
        inp.acc_z_mg = raw_to_mg(int16_be(b, 4), s)
        n = self._g_num
        d = self._g_den
        # bytes 6-7 are the temperature
        inp.gyro_x_mdps = raw_to_mdps(int16_be(b, 8), n, d)
        inp.gyro_y_mdps = raw_to_mdps(int16_be(b, 10), n, d)
        inp.gyro_z_mdps = raw_to_mdps(int16_be(b, 12), n, d)
        inp.imu_error = 0

    def _read_reg(self, reg):
        self._i2c.readfrom_mem_into(self.addr, reg, self._one)
        return self._one[0]

    def _write_reg(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self.addr, reg, self._one)


def from_params(i2c, imu):
    """An MPU6050 configured from the parsed table_params.json 'imu' section."""
    return MPU6050(i2c, imu["i2c_addr"][0], imu["accel_fs_g"][0], imu["gyro_fs_dps"][0],
                   imu["dlpf_hz"][0], imu["sample_rate_hz"][0])
