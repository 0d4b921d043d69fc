"""I2C0 with the IMU at register level: transaction time, NACK, a stuck bus, the driver's
timeouts and (on MicroPython 1.29's new driver) the IDF's error log on the console.

Owns what machine.I2C does on the wire. Devices are register models with
read(reg, n) -> bytes and write(reg, data) (host_tools/imu_model.Mpu6050Model,
host_tools/chip/imu.Mpu6500); a device's `faults` "no_response" / "timeout" act as
a missing part / a bus held low.

Timeouts (ports/esp32/machine_i2c.c machine_hw_i2c_transfer):
- legacy driver (MicroPython 1.27/1.28): i2c_master_cmd_begin(..., 100 * (1 + len)
  / portTICK_PERIOD_MS), i.e. 100 ms per byte plus 100 ms, whatever `timeout=` says
  (that only sets the SCL inactivity register, i2c_set_timeout);
- new driver (1.29 on ESP-IDF >= 5.5.2, MICROPY_HW_ESP_NEW_I2C_DRIVER): timeout_us / 1000
  ms per call; a NACK is ESP_ERR_INVALID_STATE/ESP_FAIL -> ENODEV, and the IDF's
  i2c.master component logs it at error level (3 lines) unless the log level is
  lowered (esp.osdebug(0, esp.LOG_NONE), ports/esp32/modesp.c esp_osdebug).
"""

ENODEV = 19
ETIMEDOUT = 110

# What the new driver prints for one NACK (the IDF's wording, approximately: three
# error lines of about 70 bytes each, the size that matters here).
_NACK_LOG = ("E (%d) i2c.master: I2C transaction unexpected nack detected\r\n"
             "E (%d) i2c.master: s_i2c_synchronous_transaction(945): I2C transaction failed\r\n"
             "E (%d) i2c.master: i2c_master_transmit_receive(1248): I2C transaction failed\r\n")


class Bus:
    """The one I2C bus of the board (I2C0 on pins.SDA/SCL)."""

    def __init__(self, chip):
        self._chip = chip
        self.devices = {}
        self.driver = "legacy"  # MicroPython 1.27/1.28; "new" for 1.29 on IDF >= 5.5.2
        self.freq = 400000
        self.timeout_us = 50000  # I2C_DEFAULT_TIMEOUT_US
        self.transactions = 0
        self.nacks = 0

    def attach(self, device, addr=None):
        self.devices[device.addr if addr is None else addr] = device
        return device

    def configure(self, freq, timeout_us):
        self.freq = freq
        self.timeout_us = timeout_us

    def _wire_us(self, nbytes):
        # start, address+W, register, restart, address+R, data, stop: 9 bits a byte
        return (9 * (nbytes + 3) + 3) * 1000000 // self.freq + 1

    def _device(self, addr, nbytes):
        """The device answering at addr, or the driver's error after its time."""
        self.transactions += 1
        chip = self._chip
        dev = self.devices.get(addr)
        faults = getattr(dev, "faults", {}) if dev is not None else {}
        if dev is not None and faults.get("timeout"):
            if self.driver == "legacy":
                chip.block(100000 * (1 + nbytes))
            else:
                chip.block(self.timeout_us)
            raise OSError(ETIMEDOUT)
        if dev is None or faults.get("no_response"):
            chip.block(self._wire_us(0))  # the address byte is not acknowledged
            self.nacks += 1
            if self.driver == "new" and chip.log_level >= 1:
                t = chip.now_us // 1000
                chip.uart.write_blocking((_NACK_LOG % (t, t, t)).encode())
            raise OSError(ENODEV)
        chip.block(self._wire_us(nbytes))
        return dev

    def read(self, addr, reg, buf):
        dev = self._device(addr, len(buf))
        sync = getattr(self._chip.world, "sync", None)
        if sync is not None:
            sync(self._chip)  # a lazy world brings the device's truth up to now
        buf[:] = dev.read(reg, len(buf))

    def write(self, addr, reg, buf):
        self._device(addr, len(buf)).write(reg, bytes(buf))

    def scan(self):
        return sorted(a for a in self.devices
                      if not getattr(self.devices[a], "faults", {}).get("no_response"))
