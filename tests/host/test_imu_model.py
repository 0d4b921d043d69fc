"""The MPU-6050 model and its fake I2C bus (host_tools/imu_model.py).

Datasheet tables (LSB per g and per dps), the register behaviour the firmware driver
relies on, a statistical check of the noise against the datasheet densities (seeded),
the mounting convention against the firmware estimator's own inverse, and the faults.
"""

import copy
import math
import random
import statistics
import struct

import mpu6050  # firmware/mpu6050.py (on sys.path via tests/conftest.py)
import pytest
from estimator import sample_for_angle_into
from signals import Inputs

from host_tools import imu_model, params
from host_tools.imu_model import FakeI2C, Mpu6050Model

P = params.load()
ADDR = P.imu.i2c_addr


def quiet_params(**imu_changes):
    """The parameter file with the noise densities (and anything else asked) changed."""
    raw = copy.deepcopy(P.raw)
    raw["imu"]["accel_noise_ug_rthz"][0] = 0
    raw["imu"]["gyro_noise_mdps_rthz"][0] = 0
    for k, v in imu_changes.items():
        raw["imu"][k][0] = v
    return params.Params(raw)


def make(p=P, seed=1, bias_scale=0.1, init=True):
    imu = Mpu6050Model(p, random.Random(seed), bias_scale=bias_scale)
    bus = FakeI2C(imu)
    drv = mpu6050.from_params(bus, p.raw["imu"])
    if init:
        drv.init()
    return imu, bus, drv


def raw7(bus):
    return struct.unpack(">7h", bus.readfrom_mem(ADDR, imu_model.ACCEL_XOUT_H, 14))


def collect(imu, bus, n, angle_mdeg=0.0, rate_mdeg_s=0.0, vibrating=False):
    """n successive samples (one per sample period) of a still or turning table."""
    period = imu.sample_period_ms
    out = []
    for i in range(n):
        imu.update((i + 1) * period, angle_mdeg, rate_mdeg_s, vibrating)
        out.append(raw7(bus))
    return out


# ------------------------------------------------------------------ registers


def test_who_am_i_and_power_up_asleep():
    imu, bus, _ = make(init=False)
    assert bus.readfrom_mem(ADDR, imu_model.WHO_AM_I, 1) == b"\x68"
    assert bus.readfrom_mem(ADDR, imu_model.PWR_MGMT_1, 1) == b"\x40"
    imu.update(50, 0.0, 0.0, False)
    assert raw7(bus) == (0,) * 7  # asleep: the data registers never updated
    assert bus.scan() == [ADDR]


def test_firmware_driver_init_configures_the_model():
    imu, bus, drv = make()
    assert not imu.asleep
    assert bus.readfrom_mem(ADDR, imu_model.SMPLRT_DIV, 4) == drv.expected_config()
    assert imu.dlpf_cfg == 3  # 44 Hz, from the parameter file
    assert imu.sample_period_ms == 1000 // P.imu.sample_rate_hz
    assert imu.accel_lsb_per_g == 16384
    assert imu.gyro_lsb_per_dps == 131


def test_device_reset_bit_restores_defaults():
    imu, bus, _ = make()
    bus.writeto_mem(ADDR, imu_model.PWR_MGMT_1, b"\x80")
    assert imu.asleep and imu.dlpf_cfg == 0


def test_a_new_sample_only_at_each_sample_instant():
    imu, bus, _ = make()
    imu.update(100, 0.0, 0.0, False)
    a = raw7(bus)
    imu.update(105, 0.0, 0.0, False)
    assert raw7(bus) == a  # same 10 ms sample period: the same register contents
    imu.update(110, 0.0, 0.0, False)
    assert raw7(bus) != a


# ------------------------------------------------------------------ datasheet tables


@pytest.mark.parametrize(
    "angle_mdeg,expect_x,expect_z",
    [(0, 0, 16384), (90000, -16384, 0), (-90000, 16384, 0), (30000, -8192, 14189)],
)
def test_accel_scale_at_2g_is_16384_lsb_per_g(angle_mdeg, expect_x, expect_z):
    imu, bus, _ = make(quiet_params(), bias_scale=0.0)
    imu.update(10, angle_mdeg, 0.0, False)
    ax, ay, az, temp, gx, gy, gz = raw7(bus)
    assert (ax, ay, az) == (expect_x, 0, expect_z)  # pivot y, sign +1
    assert (gx, gy, gz) == (0, 0, 0)
    assert temp == round((25 - 36.53) * 340)


@pytest.mark.parametrize("afs_sel,lsb", [(0, 16384), (1, 8192), (2, 4096), (3, 2048)])
def test_accel_full_scale_ranges(afs_sel, lsb):
    imu, bus, _ = make(quiet_params(), bias_scale=0.0)
    bus.writeto_mem(ADDR, imu_model.ACCEL_CONFIG, bytes([afs_sel << 3]))
    imu.update(10, 0.0, 0.0, False)
    assert raw7(bus)[2] == lsb


@pytest.mark.parametrize("fs_sel,rate_dps,expect", [(0, 10, 1310), (0, -2, -262), (1, 10, 655),
                                                   (3, 100, 1640)])
def test_gyro_scale(fs_sel, rate_dps, expect):
    imu, bus, _ = make(quiet_params(), bias_scale=0.0)
    bus.writeto_mem(ADDR, imu_model.GYRO_CONFIG, bytes([fs_sel << 3]))
    imu.update(10, 0.0, rate_dps * 1000.0, False)
    assert raw7(bus)[5] == expect  # gyro y: the pivot axis


def test_clipping_at_full_scale():
    imu, bus, _ = make(quiet_params(), bias_scale=0.0)
    imu.accel_bias_g = [5.0, -5.0, 0.0]
    imu.gyro_bias_dps = [0.0, 0.0, 400.0]
    imu.update(10, 0.0, 0.0, False)
    ax, ay, az, _, gx, gy, gz = raw7(bus)
    assert (ax, ay, gz) == (32767, -32768, 32767)


# ------------------------------------------------------------------ noise and offsets


def test_noise_matches_the_datasheet_density():
    imu, bus, _ = make(seed=7, bias_scale=0.0)
    samples = collect(imu, bus, 4000)
    acc_sigma_g = 1e-6 * P.imu.accel_noise_ug_rthz * math.sqrt(44)  # DLPF_CFG 3: 44 Hz
    gyro_sigma_dps = 1e-3 * P.imu.gyro_noise_mdps_rthz * math.sqrt(42)  # 42 Hz
    for axis in (0, 1, 2):
        sd = statistics.pstdev(s[axis] for s in samples) / 16384
        assert sd == pytest.approx(acc_sigma_g, rel=0.06)
    for axis in (4, 5, 6):
        sd = statistics.pstdev(s[axis] for s in samples) / 131
        assert sd == pytest.approx(gyro_sigma_dps, rel=0.06)
    # and the mean is the truth (1 g on z, nothing elsewhere) within the standard error
    assert statistics.fmean(s[2] for s in samples) == pytest.approx(16384, abs=4)
    assert statistics.fmean(s[5] for s in samples) == pytest.approx(0, abs=0.5)


def test_noise_follows_the_dlpf_bandwidth():
    imu, bus, _ = make(seed=3, bias_scale=0.0)
    bus.writeto_mem(ADDR, imu_model.CONFIG, b"\x06")  # DLPF_CFG 6: 5 Hz
    samples = collect(imu, bus, 4000)
    sd = statistics.pstdev(s[2] for s in samples) / 16384
    assert sd == pytest.approx(1e-6 * P.imu.accel_noise_ug_rthz * math.sqrt(5), rel=0.08)


def test_vibration_adds_while_the_motor_turns():
    imu, bus, _ = make(seed=5, bias_scale=0.0)
    samples = collect(imu, bus, 4000, vibrating=True)
    noise = 1e-6 * P.imu.accel_noise_ug_rthz * math.sqrt(44)
    vib = 1e-3 * P.physics.vibration_mg
    sd = statistics.pstdev(s[2] for s in samples) / 16384
    assert sd == pytest.approx(math.hypot(noise, vib), rel=0.06)


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_zero_offsets_within_the_datasheet_tolerance(scale):
    acc_tol = P.imu.accel_zero_offset_mg / 1000 * scale
    gyro_tol = P.imu.gyro_zero_offset_mdps / 1000 * scale
    biggest = 0.0
    for seed in range(200):
        imu = Mpu6050Model(P, random.Random(seed), bias_scale=scale)
        assert all(abs(b) <= acc_tol for b in imu.accel_bias_g)
        assert all(abs(b) <= gyro_tol for b in imu.gyro_bias_dps)
        biggest = max(biggest, max(abs(b) for b in imu.gyro_bias_dps))
    assert biggest > 0.9 * gyro_tol  # and they really spread over it


def test_offsets_are_the_parts_and_survive_a_power_cycle():
    imu, bus, _ = make(seed=11)
    before = (list(imu.accel_bias_g), list(imu.gyro_bias_dps))
    imu.power_on_reset()
    assert (imu.accel_bias_g, imu.gyro_bias_dps) == before


def test_same_seed_same_bytes():
    a = collect(*make(seed=9)[:2], 50, angle_mdeg=20000, rate_mdeg_s=3000)
    b = collect(*make(seed=9)[:2], 50, angle_mdeg=20000, rate_mdeg_s=3000)
    assert a == b


# ------------------------------------------------------------------ mounting convention


class _Cfg:
    def __init__(self, axis, sign):
        self.imu_axis = axis
        self.imu_sign = sign
        self.imu_zero_mdeg = 0


@pytest.mark.parametrize("axis", ["x", "y", "z"])
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("angle_mdeg", [-60000, -12345, 0, 30000, 65000])
def test_mounting_matches_the_firmware_estimator(axis, sign, angle_mdeg):
    raw = copy.deepcopy(quiet_params().raw)
    raw["imu"]["axis"][0] = axis
    raw["imu"]["sign"][0] = sign
    imu, bus, drv = make(params.Params(raw), bias_scale=0.0)
    imu.update(10, angle_mdeg, 4000.0, False)
    got = Inputs()
    drv.read_into(got)
    want = Inputs()
    sample_for_angle_into(want, angle_mdeg, 4000, _Cfg("xyz".index(axis), sign))
    for f in ("acc_x_mg", "acc_y_mg", "acc_z_mg"):
        assert abs(getattr(got, f) - getattr(want, f)) <= 1, f
    for f in ("gyro_x_mdps", "gyro_y_mdps", "gyro_z_mdps"):
        assert abs(getattr(got, f) - getattr(want, f)) <= 8, f  # one gyro LSB is 7.6 mdps


# ------------------------------------------------------------------ faults


def test_no_response_raises_enodev_and_the_driver_reports_it():
    imu, bus, drv = make()
    imu.set_fault("no_response")
    with pytest.raises(OSError) as e:
        bus.readfrom_mem(ADDR, imu_model.WHO_AM_I, 1)
    assert e.value.args[0] == 19
    inp = Inputs()
    drv.read_into(inp)
    assert inp.imu_error == 19
    assert bus.scan() == []
    imu.set_fault("no_response", False)
    drv.read_into(inp)
    assert inp.imu_error == 0


def test_timeout_raises_etimedout_after_the_bus_delay():
    imu, bus, drv = make()
    delays = []
    bus.delay_hook = delays.append
    bus.timeout_delay_ms = 25
    imu.set_fault("timeout")
    inp = Inputs()
    drv.read_into(inp)
    assert inp.imu_error == 110
    assert delays == [25]


def test_frozen_returns_the_same_bytes_until_released():
    imu, bus, _ = make()
    imu.update(10, 0.0, 0.0, False)
    imu.set_fault("frozen")
    first = raw7(bus)
    for t in range(20, 500, 10):
        imu.update(t, 5000.0 + t, 1000.0, True)
        assert raw7(bus) == first
    imu.set_fault("frozen", False)
    imu.update(510, 0.0, 0.0, False)
    assert raw7(bus) != first


def test_spikes_give_occasional_wild_values():
    imu, bus, _ = make(seed=2)
    imu.set_fault("spikes")
    imu.spike_prob = 0.2
    samples = collect(imu, bus, 500)
    wild = sum(1 for s in samples if max(abs(s[0]), abs(s[1]), abs(s[2] - 16384)) > 2000
               or max(abs(v) for v in s[4:]) > 2000)
    assert imu.spikes_injected > 60
    assert wild >= imu.spikes_injected * 0.8  # almost every spike is far from the truth
    imu.set_fault("spikes", False)
    n = imu.spikes_injected
    collect(imu, bus, 100)
    assert imu.spikes_injected == n


def test_unknown_fault_and_address():
    imu, bus, _ = make()
    with pytest.raises(ValueError):
        imu.set_fault("smoke")
    with pytest.raises(OSError) as e:
        bus.readfrom_mem(ADDR + 1, imu_model.WHO_AM_I, 1)
    assert e.value.args[0] == 19
