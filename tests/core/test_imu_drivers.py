"""IMU drivers against a fake bus: datasheet tables of bytes -> units, exact init writes, errors.

Sources of the rows: MPU-6050 PS-MPU-6000A tables 6.1/6.2 (131 LSB/dps, 16384 LSB/g at
the smallest ranges, each doubling range halving the sensitivity) and RM-MPU-6000A
(registers); ICM-42688-P DS-000347 tables 1/2 and section 14.
"""

import gc
import json
import sys

from fakes import FakeI2C
from icm42688 import ICM42688
from icm42688 import from_params as icm_from_params
from mpu6050 import MPU6050
from mpu6050 import from_params as mpu_from_params
from signals import Inputs
from support import TABLE_PARAMS, raises

ON_MPY = sys.implementation.name == "micropython"

# (accel full scale g, register bytes, mg)
ACCEL_ROWS = (
    (2, b"\x40\x00", 1000),  # 16384 LSB/g
    (2, b"\xc0\x00", -1000),
    (2, b"\x00\x00", 0),
    (2, b"\x20\x00", 500),
    (2, b"\x01\x00", 16),  # 256 / 16.384 = 15.6 -> rounded
    (2, b"\x00\x01", 0),  # one LSB is 0.06 mg
    (2, b"\x7f\xff", 2000),  # +full scale (1999.94)
    (2, b"\x80\x00", -2000),  # -full scale
    (4, b"\x20\x00", 1000),  # 8192 LSB/g
    (8, b"\x10\x00", 1000),  # 4096 LSB/g
    (16, b"\x08\x00", 1000),  # 2048 LSB/g
    (16, b"\xf8\x00", -1000),
)
# (gyro full scale dps, register bytes, mdps)
GYRO_ROWS = (
    (250, b"\x00\x83", 1000),  # 131 LSB/dps
    (250, b"\xff\x7d", -1000),
    (250, b"\x00\x00", 0),
    (250, b"\x00\x01", 8),  # one LSB is 7.6 mdps
    (250, b"\x7f\xff", 250130),  # +full scale
    (250, b"\x80\x00", -250137),
    (500, b"\x00\x83", 2000),  # 65.5 LSB/dps
    (1000, b"\x01\x48", 10000),  # 32.8 LSB/dps: 328 = 10 dps
    (2000, b"\x00\xa4", 10000),  # 16.4 LSB/dps: 164 = 10 dps
    (2000, b"\xff\x5c", -10000),
)


def _mpu(bus=None, **kw):
    if bus is None:
        bus = FakeI2C(0x68, {0x75: 0x68})
    return MPU6050(bus, **kw), bus


def _icm(bus=None, **kw):
    if bus is None:
        bus = FakeI2C(0x68, {0x75: 0x47})
    return ICM42688(bus, **kw), bus


def _mpu_sample(bus, acc, gyro):
    """Put accel bytes on all three accel axes and gyro bytes on all three gyro axes."""
    bus.set(0x3B, acc + acc + acc + b"\x0b\xb8" + gyro + gyro + gyro)


def _icm_sample(bus, acc, gyro):
    bus.set(0x1F, acc + acc + acc + gyro + gyro + gyro)


def _check_row(inp, mg, mdps):
    assert (inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg) == (mg, mg, mg)
    assert (inp.gyro_x_mdps, inp.gyro_y_mdps, inp.gyro_z_mdps) == (mdps, mdps, mdps)
    assert inp.imu_error == 0


def test_mpu6050_accel_table():
    for fs, raw, mg in ACCEL_ROWS:
        drv, bus = _mpu(accel_fs_g=fs)
        _mpu_sample(bus, raw, b"\x00\x00")
        inp = Inputs()
        drv.read_into(inp)
        assert inp.acc_x_mg == mg, (fs, raw, inp.acc_x_mg)
        _check_row(inp, mg, 0)


def test_mpu6050_gyro_table():
    for fs, raw, mdps in GYRO_ROWS:
        drv, bus = _mpu(gyro_fs_dps=fs)
        _mpu_sample(bus, b"\x40\x00", raw)
        inp = Inputs()
        drv.read_into(inp)
        assert inp.gyro_x_mdps == mdps, (fs, raw, inp.gyro_x_mdps)
        _check_row(inp, 1000, mdps)


def test_mpu6050_axes_come_from_their_own_registers():
    drv, bus = _mpu()
    # ax=1000 ay=-1000 az=500 temp gx=1000 gy=-1000 gz=2000 (mg, mdps)
    bus.set(0x3B, b"\x40\x00\xc0\x00\x20\x00\x00\x00\x00\x83\xff\x7d\x01\x06")
    inp = Inputs()
    drv.read_into(inp)
    assert (inp.acc_x_mg, inp.acc_y_mg, inp.acc_z_mg) == (1000, -1000, 500)
    assert (inp.gyro_x_mdps, inp.gyro_y_mdps, inp.gyro_z_mdps) == (1000, -1000, 2000)
    assert bus.reads[-1] == (0x68, 0x3B, 14)  # one burst read


def test_mpu6050_init_writes_exactly_this_sequence():
    drv, bus = _mpu()
    drv.init()
    assert bus.written() == [
        (0x6B, 0x01),  # PWR_MGMT_1: wake, PLL on the X gyro
        (0x6C, 0x00),  # PWR_MGMT_2: no axis in standby
        (0x19, 0x09),  # SMPLRT_DIV: 1 kHz / (1 + 9) = 100 Hz
        (0x1A, 0x03),  # CONFIG: DLPF_CFG 3 = 44 Hz accel / 42 Hz gyro
        (0x1B, 0x00),  # GYRO_CONFIG: FS_SEL 0 = +-250 dps
        (0x1C, 0x00),  # ACCEL_CONFIG: AFS_SEL 0 = +-2 g
    ]
    assert bus.reads[0] == (0x68, 0x75, 1)  # WHO_AM_I first


def test_mpu6050_init_other_ranges():
    drv, bus = _mpu(accel_fs_g=16, gyro_fs_dps=2000, dlpf_hz=10, sample_rate_hz=50)
    drv.init()
    w = dict(bus.written())
    assert (w[0x19], w[0x1A], w[0x1B], w[0x1C]) == (19, 5, 0x18, 0x18)


def test_mpu6050_from_table_params():
    with open(TABLE_PARAMS) as f:
        imu = json.load(f)["imu"]
    bus = FakeI2C(imu["i2c_addr"][0], {0x75: 0x68})
    drv = mpu_from_params(bus, imu)
    drv.init()
    assert bus.written()[2:] == [(0x19, 9), (0x1A, 3), (0x1B, 0), (0x1C, 0)]


def test_mpu6050_wrong_who_am_i_is_refused():
    bus = FakeI2C(0x68, {0x75: 0x47})  # an ICM-42688-P is no MPU-6050
    drv, bus = _mpu(bus)
    e = raises(ValueError, drv.init)
    assert "WHO_AM_I" in str(e) and "0x47" in str(e) and "0x68" in str(e)
    assert bus.writes == []  # nothing written to an unknown part


def test_mpu6500_family_clones_are_accepted_with_their_accel_filter():
    # an MPU-6500 die (many GY-521 boards) answers 0x70, an MPU-9250 0x71 (issue #19)
    with open(TABLE_PARAMS) as f:
        imu = json.load(f)["imu"]
    for who in (0x70, 0x71, 0x73, 0x74):
        bus = FakeI2C(imu["i2c_addr"][0], {0x75: who})
        drv = mpu_from_params(bus, imu)
        drv.init()
        assert drv.who_am_i == who
        # ACCEL_CONFIG2 (0x1D) takes the same band as CONFIG's DLPF (44 Hz: index 3)
        assert bus.written()[2:] == [(0x19, 9), (0x1A, 3), (0x1B, 0), (0x1C, 0), (0x1D, 3)]


def test_mpu6050_configuration_that_does_not_stick_is_refused():
    class DeafBus(FakeI2C):
        def writeto_mem(self, addr, reg, buf):
            self.writes.append((addr, reg, bytes(buf)))  # acknowledged, not stored

    bus = DeafBus(0x68, {0x75: 0x68, 0x1A: 0x00})
    drv, bus = _mpu(bus)
    e = raises(ValueError, drv.init)
    assert "did not stick" in str(e)


def test_mpu6050_absent_device_fails_init_with_enodev():
    bus = FakeI2C(0x69, {0x75: 0x68})  # the part answers at the other address
    drv, bus = _mpu(bus)
    e = raises(OSError, drv.init)
    assert e.args[0] == 19


def test_unsupported_settings_are_refused_at_construction():
    bus = FakeI2C()
    raises(ValueError, MPU6050, bus, 0x68, 3)  # +-3 g does not exist
    raises(ValueError, MPU6050, bus, 0x68, 2, 300)
    raises(ValueError, MPU6050, bus, 0x68, 2, 250, 260)  # DLPF off: not supported
    raises(ValueError, MPU6050, bus, 0x68, 2, 250, 45)
    raises(ValueError, MPU6050, bus, 0x68, 2, 250, 44, 300)  # 1000 / 300 is not whole
    raises(ValueError, MPU6050, bus, 0x68, 2, 250, 44, 2)  # divider > 255
    raises(ValueError, ICM42688, bus, 0x68, 3)
    raises(ValueError, ICM42688, bus, 0x68, 2, 250, 44, 300)  # no such ODR
    raises(ValueError, ICM42688, bus, 0x68, 2, 250, 5, 100)  # narrowest at 100 Hz is 10 Hz


def test_bus_errors_become_counted_errnos_not_exceptions():
    for make in (_mpu, _icm):
        drv, bus = make()
        inp = Inputs()
        inp.acc_x_mg = 123
        for errno in (19, 110, 5):  # ENODEV, ETIMEDOUT, EIO
            bus.fail(errno)
            drv.read_into(inp)
            assert inp.imu_error == errno
            assert drv.last_errno == errno
        assert drv.errors == 3
        assert inp.acc_x_mg == 123  # the old values are left alone
        drv.read_into(inp)  # the bus works again
        assert inp.imu_error == 0 and drv.errors == 3


def test_oserror_without_errno_counts_as_eio():
    class BareBus(FakeI2C):
        def readfrom_mem_into(self, addr, reg, buf):
            raise OSError()

    drv, _ = _mpu(BareBus())
    inp = Inputs()
    drv.read_into(inp)
    assert inp.imu_error == 5 and drv.errors == 1


def test_wrong_address_reads_as_enodev():
    drv = MPU6050(FakeI2C(0x69), 0x68)
    inp = Inputs()
    drv.read_into(inp)
    assert inp.imu_error == 19


def test_icm42688_tables():
    for fs, raw, mg in ACCEL_ROWS:
        if raw == b"\x80\x00":
            continue  # on all three axes that is the "no data" marker (test below)
        drv, bus = _icm(accel_fs_g=fs)
        _icm_sample(bus, raw, b"\x00\x00")
        inp = Inputs()
        drv.read_into(inp)
        _check_row(inp, mg, 0)
    for fs, raw, mdps in GYRO_ROWS:
        drv, bus = _icm(gyro_fs_dps=fs)
        _icm_sample(bus, b"\x40\x00", raw)
        inp = Inputs()
        drv.read_into(inp)
        _check_row(inp, 1000, mdps)


def test_icm42688_init_writes_exactly_this_sequence():
    drv, bus = _icm()
    drv.init()
    assert bus.written() == [
        (0x76, 0x00),  # REG_BANK_SEL: bank 0
        (0x4F, 0x68),  # GYRO_CONFIG0: FS_SEL 3 = +-250 dps, ODR 8 = 100 Hz
        (0x50, 0x68),  # ACCEL_CONFIG0: FS_SEL 3 = +-2 g, ODR 8 = 100 Hz
        (0x52, 0x44),  # GYRO_ACCEL_CONFIG0: 400 Hz / 10 = 40 Hz, the widest <= 44 Hz
        (0x4E, 0x0F),  # PWR_MGMT0: gyro and accel low-noise, last
    ]
    assert drv.filter_bw_hz == 40


def test_icm42688_other_settings():
    drv, bus = _icm(accel_fs_g=16, gyro_fs_dps=2000, dlpf_hz=100, sample_rate_hz=1000)
    drv.init()
    w = dict(bus.written())
    # 1 kHz ODR: ODR/2 = 500, /4 = 250, ..., /10 = 100 Hz (code 4)
    assert (w[0x4F], w[0x50], w[0x52]) == (0x06, 0x06, 0x44)


def test_icm42688_from_table_params():
    with open(TABLE_PARAMS) as f:
        imu = json.load(f)["imu"]
    bus = FakeI2C(imu["i2c_addr"][0], {0x75: 0x47})
    drv = icm_from_params(bus, imu)
    drv.init()
    assert bus.written()[-1] == (0x4E, 0x0F)


def test_icm42688_wrong_who_am_i_is_refused():
    drv, bus = _icm(FakeI2C(0x68, {0x75: 0x68}))  # an MPU-6050 where an ICM was expected
    e = raises(ValueError, drv.init)
    assert "WHO_AM_I" in str(e) and "0x47" in str(e)
    assert bus.written() == [(0x76, 0x00)]  # only the bank select


def test_icm42688_reset_value_means_no_data_yet():
    drv, bus = _icm()
    bus.set(0x1F, b"\x80\x00" * 6)  # DS 14.7: data registers reset to 0x8000
    inp = Inputs()
    drv.read_into(inp)
    assert inp.imu_error == 11 and drv.errors == 1
    bus.set(0x1F, b"\x80\x00\x00\x00\x00\x00")  # -2 g on one axis is a real reading
    drv.read_into(inp)
    assert inp.imu_error == 0 and inp.acc_x_mg == -2000


def _alloc_of_reads(drv, bus):
    bus.log_reads = False
    inp = Inputs()
    drv.read_into(inp)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(200):
        drv.read_into(inp)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def test_read_into_allocates_nothing_on_micropython():
    if not ON_MPY:
        return  # gc.mem_alloc() is MicroPython's
    drv, bus = _mpu()
    bus.set(0x3B, b"\xc0\x00\x20\x00\x3f\xf0\x00\x00\xff\x7d\x00\x83\x7f\xff")
    assert _alloc_of_reads(drv, bus) == 0
    drv, bus = _icm()
    bus.set(0x1F, b"\xc0\x00\x20\x00\x3f\xf0\xff\x7d\x00\x83\x7f\xff")
    assert _alloc_of_reads(drv, bus) == 0
