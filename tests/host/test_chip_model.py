"""The chip model itself (host_tools/chip), behaviour by behaviour, each as MicroPython's
ESP32 port has it (the source each one comes from is cited in the model)."""

import pytest

from host_tools.chip import Chip, ChipReset
from host_tools.chip import machine as m
from host_tools.chip.core import WDT_RESET
from host_tools.chip.modules import EspModule, MicropythonModule, TimeModule
from host_tools.chip.periph import duty_resolution

time = TimeModule()


@pytest.fixture
def chip():
    c = Chip().install()
    yield c


def test_the_scheduler_holds_eight_and_drops_the_rest(chip):
    got = []
    for i in range(10):
        chip.schedule(got.append, i)
    assert chip.dropped == 2
    time.sleep_ms(1)
    assert got == list(range(8))


def test_pin_irq_is_soft_and_runs_at_the_next_pending_check(chip):
    p = m.Pin(34, m.Pin.IN)
    seen = []
    p.irq(handler=lambda pin: seen.append(pin.value()), trigger=m.Pin.IRQ_RISING)
    chip.set_input(34, 1)
    chip.set_input(34, 0)  # falling: not a trigger
    assert seen == []  # nothing ran yet: no bytecode boundary
    p.value()  # any call into the chip is one
    assert seen == [0]  # the level by the time it runs, not at the edge
    p.irq(handler=None)
    chip.set_input(34, 1)
    time.sleep_ms(1)
    assert seen == [0]


def test_edges_during_a_flash_write_wait_for_the_cache(chip):
    p = m.Pin(35, m.Pin.IN)
    seen = []
    p.irq(handler=seen.append, trigger=m.Pin.IRQ_RISING)
    chip.world = _At(40000, lambda c: c.set_input(35, 1))
    chip.stall(80000)
    assert seen == [] and chip.now_us == 80000
    time.sleep_us(1)
    assert seen == [p]


class _At:
    def __init__(self, t, fn):
        self.t, self.fn = t, fn

    def next_event_us(self, now):
        return self.t if self.t > now else 1 << 62

    def chip_advance(self, chip, t0, t1):
        if t0 < self.t <= t1:
            self.fn(chip)


def test_input_only_pins_have_no_pulls_and_no_output(chip):
    p = m.Pin(36, m.Pin.IN, m.Pin.PULL_UP)
    assert p.value() == 0  # GPIO34-39: no internal pull-up
    assert m.Pin(4, m.Pin.IN, m.Pin.PULL_UP).value() == 1
    with pytest.raises(ValueError):
        m.Pin(39, m.Pin.OUT)


def test_timer_callbacks_are_soft_and_masked_alarms_come_once(chip):
    n = []
    t = m.Timer(0)
    t.init(mode=m.Timer.PERIODIC, period=5, callback=n.append)
    time.sleep_ms(50)
    assert len(n) == 10
    chip.block(30000)  # a C call: each alarm's ISR queues a call, they run after it
    assert len(n) == 10
    time.sleep_us(1)
    assert len(n) == 16
    chip.stall(30000)  # cache off: the alarm ISR is masked, one call comes after
    time.sleep_us(1)
    assert len(n) == 17
    t.deinit()
    time.sleep_ms(20)
    assert len(n) == 17
    with pytest.raises(ValueError):
        t.init(period=5, callback=n.append, hard=True)


def test_ledc_changes_land_at_the_end_of_the_period(chip):
    pwm = m.PWM(m.Pin(25, m.Pin.OUT), freq=100, duty_u16=0)
    pwm.duty_u16(1000)
    time.sleep_us(9999)
    ch = chip.ledc[25]
    assert ch.emitted == 0  # the duty lands at the first boundary, 10 ms
    time.sleep_us(2)
    assert ch.emitted == 1
    pwm.freq(1000)  # lands at 20 ms: no pulse in between
    time.sleep_ms(9)
    assert ch.emitted == 1
    time.sleep_ms(11)
    assert ch.emitted == 12  # 20, 21, ... 30 ms
    pwm.duty_u16(0)  # at 30.001 ms, inside the period whose pulse began at 30 ms
    time.sleep_ms(10)
    assert ch.emitted == 12  # that pulse is not cut, and no other starts
    with pytest.raises(ValueError):
        pwm.freq(0)


def test_ledc_duty_resolution_is_at_most_16_bits():
    assert duty_resolution(1000) == 16
    assert duty_resolution(30000) == 11  # 80 MHz / 30 kHz: 2666 counts
    chip = Chip().install()
    pwm = m.PWM(m.Pin(25, m.Pin.OUT), freq=30000, duty_u16=31)  # < 1 LSB of 11 bits
    time.sleep_ms(1)
    assert chip.ledc[25].emitted == 0
    pwm.duty_u16(64)
    time.sleep_ms(1)
    assert chip.ledc[25].emitted > 0


def test_counter_laps_come_through_the_soft_overflow_callback(chip):
    src = m.Pin(18, m.Pin.IN)
    c = m.Counter(0, src, edge=m.Counter.FALLING, direction=m.Counter.UP)
    pwm = m.PWM(m.Pin(18, m.Pin.OUT), freq=20000, duty_u16=32768)
    time.sleep_ms(2000)  # 40000 pulses: one lap of 32000
    assert chip.pcnt[0].overflow_events == 1
    assert c.value() == 40000
    assert c.value(0) == 40000 and c.value() == 0
    pwm.deinit()


def test_a_dropped_overflow_callback_loses_a_lap(chip):
    c = m.Counter(0, m.Pin(18, m.Pin.IN))
    for i in range(8):
        chip.schedule(lambda a: None, i)  # the queue is full
    chip.pcnt[0].count(chip, 32001)
    time.sleep_us(1)
    assert chip.dropped == 1 and c.value() == 1  # 32000 counts gone


def test_a_pcnt_overflow_during_a_flash_write_crashes_the_chip(chip):
    m.Counter(0, m.Pin(18, m.Pin.IN))
    m.PWM(m.Pin(18, m.Pin.OUT), freq=20000, duty_u16=32768)
    time.sleep_ms(1500)  # 30000 counted
    with pytest.raises(ChipReset):
        chip.stall(200000)  # 4000 more: the overflow ISR runs non-IRAM code
    assert chip.panics


def test_the_watchdog_resets_unless_fed(chip):
    w = m.WDT(timeout=100)
    for _ in range(5):
        time.sleep_ms(90)
        w.feed()
    with pytest.raises(ChipReset) as e:
        time.sleep_ms(101)
    assert e.value.cause == WDT_RESET
    with pytest.raises(ValueError):
        m.WDT(timeout=0)


def test_freq_takes_the_esp32_steps_only(chip):
    assert m.freq() == 160000000  # the stock image
    m.freq(240000000)
    assert m.freq() == 240000000
    with pytest.raises(ValueError):
        m.freq(200000000)


def test_ctrl_c_is_an_interrupt_until_kbd_intr_minus_one(chip):
    chip.uart.host_send(b"a\x03")
    assert chip.uart.rx == b"a" and chip.kbd_pending
    with pytest.raises(KeyboardInterrupt):
        time.sleep_ms(1)
    MicropythonModule.kbd_intr(-1)
    chip.uart.host_send(b"\x03")
    time.sleep_ms(1)
    assert chip.uart.rx == b"a\x03"


def test_i2c_errors_and_the_drivers_timeouts(chip):
    bus = m.I2C(0, freq=400000, timeout=5000)
    buf = bytearray(14)
    t0 = chip.now_us
    with pytest.raises(OSError) as e:
        bus.readfrom_mem_into(0x68, 0x3B, buf)  # nothing there: NACK
    assert e.value.args[0] == 19 and chip.now_us - t0 < 1000

    class Stuck:
        addr = 0x68
        faults = {"timeout": True}

    chip.bus.attach(Stuck())
    t0 = chip.now_us
    with pytest.raises(OSError) as e:
        bus.readfrom_mem_into(0x68, 0x3B, buf)
    assert e.value.args[0] == 110
    assert chip.now_us - t0 == 100000 * 15  # legacy (1.27/1.28): 100 ms x (1 + 14)
    chip.bus.driver = "new"
    t0 = chip.now_us
    with pytest.raises(OSError):
        bus.readfrom_mem_into(0x68, 0x3B, buf)
    assert chip.now_us - t0 == 5000  # the new driver keeps timeout=


def test_the_new_i2c_driver_logs_each_nack_unless_the_log_is_off(chip):
    bus = m.I2C(0)
    chip.bus.driver = "new"
    buf = bytearray(14)
    t0 = chip.now_us
    for _ in range(2):
        with pytest.raises(OSError):
            bus.readfrom_mem_into(0x68, 0x3B, buf)
    assert chip.now_us - t0 >= 10000  # the FIFO filled: a blocked RTOS tick
    assert b"nack" in chip.uart.host_receive() + bytes(chip.uart._fifo)
    EspModule.osdebug(None)  # back to ESP_LOG_ERROR: still logged
    assert chip.log_level == 1
    EspModule.osdebug(0, EspModule.LOG_NONE)
    chip.advance(100000)
    chip.uart.host_receive()
    with pytest.raises(OSError):
        bus.readfrom_mem_into(0x68, 0x3B, buf)
    chip.advance(100000)
    assert chip.uart.host_receive() == b""


def test_ticks_wrap_at_2_to_the_30(chip):
    chip.now_us = (1 << 30) * 1000 - 5000
    a = time.ticks_ms()
    time.sleep_ms(10)
    b = time.ticks_ms()
    assert b < a and time.ticks_diff(b, a) == 10
    assert time.ticks_add(a, 10) == b


def test_rtc_counts_from_2000_at_power_on_and_keeps_the_time_it_was_set_to():
    """machine.RTC as ports/esp32/machine_rtc.c gives it: (y, m, d, weekday Monday=0, h, mi,
    s, us), the port's epoch 2000-01-01 at power-on; a set time then runs with the chip."""
    import datetime

    from host_tools.chip import core
    from host_tools.chip import machine as m
    c = core.Chip().install()
    rtc = m.RTC()
    assert rtc.datetime() == (2000, 1, 1, 5, 0, 0, 0, 0)
    rtc.datetime((2026, 12, 3, 0, 23, 59, 58, 0))  # the weekday given is ignored
    c.now_us += 2500000
    y, mo, d, wd, h, mi, s, us = rtc.datetime()
    assert (y, mo, d, h, mi, s, us) == (2026, 12, 4, 0, 0, 0, 500000)
    assert wd == datetime.date(2026, 12, 4).weekday()
