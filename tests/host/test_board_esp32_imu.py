"""The IMU on the chip model's I2C bus, read by the real board code and drivers:
imu.part chooses the driver, the MPU-6500 family's identities are accepted, and a
missing part costs no console flood once the IDF log is off."""

import json
import shutil

import pytest
from config import Config, ConfigError, load_hardware
from signals import Inputs

from host_tools import paths
from host_tools.chip.rig import Rig


@pytest.fixture
def fs(tmp_path, monkeypatch):
    shutil.copy(paths.TABLE_PARAMS, tmp_path / "table_params.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_part(fs, part):
    p = fs / "table_params.json"
    params = json.loads(p.read_text())
    params["imu"]["part"][0] = part
    p.write_text(json.dumps(params))


def read(imu="mpu6050", who=None):
    rig = Rig(imu=imu)
    try:
        if who is not None:
            rig.imu.regs[0x75] = who
            rig.imu.power_on_reset = lambda: None  # keep the identity set here
        b = rig.board()
        inp = Inputs()
        b.read_inputs(inp)
        return b, inp, rig.imu
    finally:
        rig.close()


# WHO_AM_I -> accepted (Linux drivers/iio/imu/inv_mpu6050/inv_mpu_iio.h)
IDENTITIES = [(0x68, True), (0x70, True), (0x71, True), (0x73, True), (0x74, True),
              (0x47, False), (0x00, False), (0x98, False)]


@pytest.mark.parametrize("who,ok", IDENTITIES)
def test_the_mpu6050_driver_accepts_the_family_identities(fs, who, ok):
    b, inp, imu = read(who=who)
    if ok:
        assert inp.imu_error == 0 and 900 < inp.acc_z_mg < 1100
        assert b.imu.who_am_i == who
        # the 6500 family filters the accelerometer in ACCEL_CONFIG2: set to the same band
        assert imu.regs[0x1D] == (0 if who == 0x68 else 3)  # dlpf_hz 44 -> index 3
    else:
        assert inp.imu_error == 19


def test_an_mpu6500_die_reads_as_an_imu(fs):
    b, inp, imu = read(imu="mpu6500")
    assert inp.imu_error == 0 and b.imu.who_am_i == 0x70


def test_imu_part_chooses_the_driver(fs):
    set_part(fs, "icm42688")
    b, inp, _ = read()  # an MPU-6050 on the bus: the ICM driver refuses it
    assert type(b.imu).__name__ == "ICM42688" and inp.imu_error == 19
    set_part(fs, "mpu6050")
    b, inp, _ = read()
    assert type(b.imu).__name__ == "MPU6050" and inp.imu_error == 0


def test_an_unknown_part_reads_as_no_imu_and_is_a_config_error(fs):
    set_part(fs, "bmi160")
    b, inp, _ = read()
    assert b.imu is None and inp.imu_error == 19
    with pytest.raises(ConfigError):
        load_hardware(Config(), "table_params.json")


def test_a_missing_imu_on_the_new_driver_floods_no_console_after_chip_setup(fs):
    rig = Rig(imu=None)
    try:
        rig.chip.bus.driver = "new"  # MicroPython 1.29 on ESP-IDF >= 5.5.2
        b = rig.board()  # chip_setup(): esp.osdebug(0, esp.LOG_NONE)
        inp = Inputs()
        t0 = rig.chip.now_us
        for _ in range(5):
            b.read_inputs(inp)
        assert inp.imu_error == 19
        assert rig.chip.now_us - t0 < 2000  # five NACKs, no console wait
        rig.chip.advance(50000)
        assert rig.chip.uart.host_receive() == b""
    finally:
        rig.close()
