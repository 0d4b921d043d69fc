"""IMU parts at register level beyond host_tools/imu_model.py's MPU-6050 (CPython only:
the model draws its noise with CPython's random and struct).

Owns the clones the driver must accept.
"""

from host_tools.imu_model import Mpu6050Model

_WHO_AM_I = 0x75


class Mpu6500(Mpu6050Model):
    """An MPU-6500 die (the usual GY-521 clone): the MPU-6050's registers for what the
    driver uses, WHO_AM_I 0x70 (RM-MPU-6500A-00; Linux inv_mpu_iio.h
    INV_MPU6500_WHOAMI_VALUE), and the accel low-pass in ACCEL_CONFIG2 (0x1D)."""

    who_am_i = 0x70

    def power_on_reset(self):
        Mpu6050Model.power_on_reset(self)
        self.regs[_WHO_AM_I] = self.who_am_i
