"""ICM-42688-P register-level driver: the supported alternative to the MPU-6050.

Owns: the ICM-42688-P's init sequence, its WHO_AM_I check and reading its six axes
into Inputs in place. Same interface and error behaviour as firmware/mpu6050.py
(whose scale helpers it uses: both parts have the same 16-bit scales).

Errors: read_into() never raises - a bus failure sets inp.imu_error to the errno and
counts it in self.errors. init() raises OSError (bus) or ValueError (wrong device,
configuration did not stick); the constructor raises ValueError for settings the
part does not have.

Source: TDK InvenSense DS-000347 ICM-42688-P datasheet rev 1.8 ("DS"): section 14
(user bank 0 register descriptions), tables 1 and 2 (sensitivity per full scale).
"""

from micropython import const
from mpu6050 import (
    ACCEL_FS_G,
    GYRO_DEN,
    GYRO_FS_DPS,
    GYRO_NUM,
    errno_of,
    fs_index,
    int16_be,
    raw_to_mdps,
    raw_to_mg,
)

# --- user bank 0 registers (DS section 13 register map) ---
_ACCEL_DATA_X1 = const(0x1F)  # DS 14.7-14.18: accel X,Y,Z then gyro X,Y,Z, 12 bytes, big-endian
_PWR_MGMT0 = const(0x4E)  # DS 14.36: GYRO_MODE [3:2], ACCEL_MODE [1:0]
_GYRO_CONFIG0 = const(0x4F)  # DS 14.37: GYRO_FS_SEL [7:5], GYRO_ODR [3:0]
_ACCEL_CONFIG0 = const(0x50)  # DS 14.38: ACCEL_FS_SEL [7:5], ACCEL_ODR [3:0]
_GYRO_ACCEL_CONFIG0 = const(0x52)  # DS 14.40: ACCEL_UI_FILT_BW [7:4], GYRO_UI_FILT_BW [3:0]
_WHO_AM_I = const(0x75)  # DS 14.58
_REG_BANK_SEL = const(0x76)  # DS 14.59: a previous program may have left another bank selected

_WHO_AM_I_VALUE = const(0x47)
_DATA_LEN = const(12)
_CONFIG_LEN = const(4)  # GYRO_CONFIG0 .. GYRO_ACCEL_CONFIG0, read back in one go

# PWR_MGMT0 = 0x0F: gyro and accel in low-noise mode (0b11 each), temperature sensor on.
# Written last: DS 14.36 forbids register writes for 200 us after a sensor leaves OFF,
# and the core never sleeps.
_PWR_LN_BOTH = const(0x0F)

# The data registers reset to 0x80 0x00 (-32768) and hold it until the first sample
# (DS 14.7-14.12 reset values): a reading of -32768 on all three accel axes is "no data".
_NO_DATA = const(-32768)
_EAGAIN = const(11)  # reported as the errno of a "no data yet" read

DEFAULT_ADDR = const(0x68)  # AP_AD0 low

# Output data rate codes (DS 14.37/14.38, GYRO_ODR / ACCEL_ODR; all valid in LN mode).
_ODR_HZ = (1000, 200, 100, 50, 25, 500)
_ODR_CODE = (6, 7, 8, 9, 10, 15)
# UI filter bandwidth codes 0..7 (DS 14.40, low-noise mode): 0 is ODR/2, 1..7 are
# max(400 Hz, ODR) divided by these.
_BW_DIV = (4, 5, 8, 10, 16, 20, 40)  # codes 1..7
_BW_BASE_MIN_HZ = const(400)

_COUNT_MAX = const(0x3FFFFFFF)


def filter_code(odr_hz, dlpf_hz):
    """The UI filter code whose bandwidth is the widest not above dlpf_hz, and that width.

    Never filters less than asked; ValueError if even the narrowest is too wide.
    """
    base = odr_hz if odr_hz > _BW_BASE_MIN_HZ else _BW_BASE_MIN_HZ
    best = -1
    best_hz = 0
    for code in range(len(_BW_DIV) + 1):
        bw = odr_hz // 2 if code == 0 else base // _BW_DIV[code - 1]
        if best_hz < bw <= dlpf_hz:
            best = code
            best_hz = bw
    if best < 0:
        raise ValueError("ICM-42688-P has no filter at or below %r Hz at %d Hz ODR"
                         % (dlpf_hz, odr_hz))
    return best, best_hz


class ICM42688:
    """One ICM-42688-P on an I2C bus; the interface of mpu6050.MPU6050.

    accel_fs_g: 2/4/8/16. gyro_fs_dps: 250/500/1000/2000. dlpf_hz: the widest UI filter
    bandwidth not above it is used (filter_bw_hz). sample_rate_hz: 25/50/100/200/500/1000.
    """

    def __init__(self, i2c, addr=DEFAULT_ADDR, accel_fs_g=2, gyro_fs_dps=250, dlpf_hz=44,
                 sample_rate_hz=100):
        self._i2c = i2c
        self.addr = addr
        afs = fs_index(accel_fs_g, ACCEL_FS_G, "ICM-42688-P accel full scale (g)")
        gfs = fs_index(gyro_fs_dps, GYRO_FS_DPS, "ICM-42688-P gyro full scale (dps)")
        odr = _ODR_CODE[fs_index(sample_rate_hz, _ODR_HZ, "ICM-42688-P sample rate (Hz)")]
        bw, self.filter_bw_hz = filter_code(sample_rate_hz, dlpf_hz)
        # FS_SEL codes count down from the largest range: accel 0 = 16 g .. 3 = 2 g,
        # gyro 0 = 2000 dps .. 3 = 250 dps (DS 14.37, 14.38).
        self._gyro_cfg0 = ((3 - gfs) << 5) | odr
        self._accel_cfg0 = ((3 - afs) << 5) | odr
        self._filt_cfg0 = (bw << 4) | bw  # same bandwidth for accel and gyro
        # Same sensitivities as the MPU-6050 (DS table 1: 131/65.5/32.8/16.4 LSB/dps at
        # 250..2000 dps; table 2: 16384/8192/4096/2048 LSB/g at 2..16 g).
        self._acc_shift = 14 - afs
        self._g_num = GYRO_NUM[gfs]
        self._g_den = GYRO_DEN[gfs]
        self._buf = bytearray(_DATA_LEN)
        self._one = bytearray(1)
        self._cfg = bytearray(_CONFIG_LEN)
        self.errors = 0  # read_into() failures (bus errors and "no data yet")
        self.last_errno = 0
        self.who_am_i = 0  # the identity init() found (0: not yet), as mpu6050.py keeps it

    def init(self):
        """Select bank 0, check WHO_AM_I, configure, then power the sensors on."""
        self._write_reg(_REG_BANK_SEL, 0)
        self._i2c.readfrom_mem_into(self.addr, _WHO_AM_I, self._one)
        who = self._one[0]
        if who != _WHO_AM_I_VALUE:
            raise ValueError("no ICM-42688-P at 0x%02x: WHO_AM_I reads 0x%02x, expected 0x%02x"
                             % (self.addr, who, _WHO_AM_I_VALUE))
        self.who_am_i = who
        self._write_reg(_GYRO_CONFIG0, self._gyro_cfg0)
        self._write_reg(_ACCEL_CONFIG0, self._accel_cfg0)
        self._write_reg(_GYRO_ACCEL_CONFIG0, self._filt_cfg0)
        self._i2c.readfrom_mem_into(self.addr, _GYRO_CONFIG0, self._cfg)
        c = self._cfg
        # c[2] is GYRO_CONFIG1, left at its reset value.
        if c[0] != self._gyro_cfg0 or c[1] != self._accel_cfg0 or c[3] != self._filt_cfg0:
            raise ValueError("ICM-42688-P configuration did not stick: read %r" % (bytes(c),))
        self._write_reg(_PWR_MGMT0, _PWR_LN_BOTH)

    def read_into(self, inp):
        """Burst-read one sample into inp (signals.Inputs). Never raises on a bus error."""
        try:
            self._i2c.readfrom_mem_into(self.addr, _ACCEL_DATA_X1, self._buf)
        except OSError as e:
            self._fail(inp, errno_of(e))
            return
        b = self._buf
        ax = int16_be(b, 0)
        ay = int16_be(b, 2)
        az = int16_be(b, 4)
        if ax == _NO_DATA and ay == _NO_DATA and az == _NO_DATA:
            self._fail(inp, _EAGAIN)
            return
        s = self._acc_shift
        inp.acc_x_mg = raw_to_mg(ax, s)
        inp.acc_y_mg = raw_to_mg(ay, s)
        inp.acc_z_mg = raw_to_mg(az, s)
        n = self._g_num
        d = self._g_den
        inp.gyro_x_mdps = raw_to_mdps(int16_be(b, 6), n, d)
        inp.gyro_y_mdps = raw_to_mdps(int16_be(b, 8), n, d)
        inp.gyro_z_mdps = raw_to_mdps(int16_be(b, 10), n, d)
        inp.imu_error = 0

    def _fail(self, inp, code):
        inp.imu_error = code
        self.last_errno = code
        if self.errors < _COUNT_MAX:
            self.errors += 1

    def _write_reg(self, reg, value):
        self._one[0] = value
        self._i2c.writeto_mem(self.addr, reg, self._one)


def from_params(i2c, imu):
    """An ICM42688 configured from the parsed table_params.json 'imu' section."""
    return ICM42688(i2c, imu["i2c_addr"][0], imu["accel_fs_g"][0], imu["gyro_fs_dps"][0],
                    imu["dlpf_hz"][0], imu["sample_rate_hz"][0])
