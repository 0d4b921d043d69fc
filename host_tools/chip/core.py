"""The chip: virtual time, soft callbacks, GPIO levels, stalls, watchdog and resets.

Owns what every peripheral shares. Time is an integer count of microseconds that only
moves when the firmware sleeps (time.sleep_*), blocks in a C call (I2C, a full UART
FIFO) or stalls (a flash write): Python code itself takes no time here, which is the
chip's best case; the stalls are its realistic worst cases.

Soft callbacks (Pin.irq, Timer, the PCNT overflow of machine.Counter): the ISR only
calls mp_sched_schedule() (ports/esp32/machine_pin.c machine_pin_isr_handler,
machine_timer.c machine_timer_isr_virtual), which queues (function, argument) if the
queue has room and otherwise returns false: the event is lost (py/scheduler.c
mp_sched_schedule; MICROPY_SCHEDULER_DEPTH is 8 on the ESP32, ports/esp32/
mpconfigport.h). The queue runs at the VM's pending checks and inside sleeps
(mp_hal_delay_ms calls mp_handle_pending, ports/esp32/mphalport.c). CPython has no
bytecode hook here, so the model runs the queue where the firmware enters the chip
(every machine/time call) and inside sleeps: never inside a C call or a stall, never
nested in a callback (the scheduler is locked while one runs).

Flash writes disable the cache: every ISR not in IRAM is masked (GPIO, timer) until
the write ends, then the latched ones fire; hardware (LEDC, PCNT) keeps running
(reference: /work/shared/reference/micropython-esp32.md "Things that stall the CPU").
"""

PWRON_RESET = 1  # ports/esp32/modmachine.h MP_PWRON_RESET.. (machine.reset_cause())
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

SCHED_DEPTH = 8  # MICROPY_SCHEDULER_DEPTH, ports/esp32/mpconfigport.h
CPU_HZ_STOCK = 160000000  # the stock ESP32_GENERIC image (sdkconfig CPU 160 MHz)
ESP_LOG_ERROR = 1  # esp_log_level_t; ESP_LOG_NONE = 0. Boot default: ERROR (modesp.c)
_NEVER = 1 << 62

current = None  # the chip the machine/time/... modules act on (one per process)


class ChipReset(Exception):
    """The chip reset (watchdog, machine.reset(), a panic): the firmware must restart."""

    def __init__(self, cause, why=""):
        Exception.__init__(self, cause, why)
        self.cause = cause
        self.why = why


class PinState:
    """One GPIO: how the firmware configured it and what drives it from outside."""

    def __init__(self, gpio):
        self.gpio = gpio
        self.mode = None  # None (unconfigured), 1 IN, 3 OUT (machine.Pin constants)
        self.pull = None
        self.out = 0
        self.ext = None  # level the world drives (None: floating)
        self.handler = None
        self.trigger = 0
        self.obj = None  # the machine.Pin the ISR passes to the handler
        self.latched = False  # edge seen while the interrupts were masked

    def level(self):
        if self.mode == 3:
            return self.out
        if self.ext is not None:
            return self.ext
        return 1 if self.pull == 1 else 0


class Chip:
    """One ESP32. `board` (host_tools/chip/board.py) is the glue hardware around it."""

    def __init__(self, cause=PWRON_RESET):
        from host_tools.chip.flash import Flash
        from host_tools.chip.i2cbus import Bus
        from host_tools.chip.stdio import Uart

        self.now_us = 0
        self.cause = cause
        self.cpu_hz = CPU_HZ_STOCK
        self.log_level = ESP_LOG_ERROR
        self.kbd_char = 3  # MicroPython enables Ctrl-C before boot.py runs
        self.kbd_pending = False
        self._queue = []
        self.dropped = 0  # soft callbacks lost to a full queue
        self.callback_errors = []
        self.masked = False  # inside a flash write: non-IRAM ISRs wait
        self.blocked = 0  # inside a C call: no bytecode, no soft callback
        self._in_cb = False
        self.pins = {}
        self.timers = []
        self.ledc = {}  # gpio -> periph.Ledc
        self.pcnt = []  # periph.Pcnt units
        self.wdt_timeout_us = None
        self.wdt_fed_us = 0
        self.nvs = {}
        self.board = None
        self.world = None  # optional: world.chip_advance(chip, t0_us, t1_us)
        self.bus = Bus(self)
        self.uart = Uart(self)
        self.flash = Flash(self)
        self.panics = []  # (t_us, why): what would have crashed the chip

    def install(self):
        """Make this the chip the machine/time/... modules act on."""
        global current
        current = self
        return self

    # ------------------------------------------------------------ GPIO

    def pin(self, gpio):
        p = self.pins.get(gpio)
        if p is None:
            p = self.pins[gpio] = PinState(gpio)
        return p

    def set_input(self, gpio, level):
        """The world drives a pin (None: let it float to its pull)."""
        p = self.pin(gpio)
        old = p.level()
        p.ext = level
        self._edge(p, old)

    def output_changed(self, p, old):
        """A level the firmware drives changed (board glue listens: heartbeat, DIR)."""
        if self.board is not None and p.level() != old:
            self.board.output_changed(p.gpio, p.level(), self.now_us)
        self._edge(p, old)

    def _edge(self, p, old):
        new = p.level()
        if new == old or p.handler is None:
            return
        if not p.trigger & (1 if new == 0 else 2):  # IRQ_FALLING 1, IRQ_RISING 2
            return
        if self.masked:
            p.latched = True  # the GPIO interrupt status stays set until the cache is back
            return
        self.schedule(p.handler, p.obj)

    # ------------------------------------------------------------ scheduler

    def schedule(self, fn, arg):
        """mp_sched_schedule(): False (and the event is gone) when the queue is full."""
        if len(self._queue) >= SCHED_DEPTH:
            self.dropped += 1
            return False
        self._queue.append((fn, arg))
        return True

    def pending(self):
        """A pending check of the VM: Ctrl-C first, then the queued callbacks."""
        if self._in_cb or self.blocked or self.masked:
            return
        if self.kbd_pending:
            self.kbd_pending = False
            raise KeyboardInterrupt
        while self._queue:
            fn, arg = self._queue.pop(0)
            self._in_cb = True
            try:
                fn(arg)
            except Exception as e:  # printed and dropped, as mp_sched_run_pending does
                self.callback_errors.append(e)
            finally:
                self._in_cb = False

    # ------------------------------------------------------------ time

    def sleep_us(self, us):
        """A sleep: time passes, callbacks run at their time (mp_hal_delay_ms)."""
        self.pending()
        end = self.now_us + us
        while self.now_us < end:
            self._advance_to(self._next_event(end))
            self.pending()

    def block(self, us):
        """A C call that holds the CPU for us (I2C, UART): ISRs run, no callback."""
        self.blocked += 1
        try:
            end = self.now_us + us
            while self.now_us < end:
                self._advance_to(self._next_event(end))
        finally:
            self.blocked -= 1

    def stall(self, us):
        """The cache is off (a flash write or erase): non-IRAM ISRs are masked."""
        self.blocked += 1
        self.masked = True
        try:
            end = self.now_us + us
            while self.now_us < end:
                self._advance_to(self._next_event(end))
        finally:
            self.masked = False
            self.blocked -= 1
        for p in self.pins.values():
            if p.latched:
                p.latched = False
                if p.handler is not None:
                    self.schedule(p.handler, p.obj)
        for t in self.timers:
            t.unmask(self)

    def advance(self, us):
        """The host lets time pass with the firmware idle in a sleep."""
        self.sleep_us(us)

    def _next_event(self, end):
        now = self.now_us
        t = end
        for tm in self.timers:
            if tm.next_us < t:
                t = tm.next_us
        for ch in self.ledc.values():
            n = ch.next_change_us(now)
            if n < t:
                t = n
        if self.wdt_timeout_us is not None:
            n = self.wdt_fed_us + self.wdt_timeout_us
            if n < t:
                t = n
        if self.board is not None:
            n = self.board.next_event_us(now)
            if n < t:
                t = n
        if self.world is not None:
            n = self.world.next_event_us(now)
            if n < t:
                t = n
        return t if t > now else now + 1

    def _advance_to(self, t):
        t0 = self.now_us
        for ch in self.ledc.values():
            n = ch.pulses(t0, t)
            if n:
                self._route(ch.gpio, n, t0, t)
        self.now_us = t
        if self.world is not None:
            self.world.chip_advance(self, t0, t)
        for ch in self.ledc.values():
            ch.latch(t)
        for tm in self.timers:
            tm.due(self, t)
        if self.wdt_timeout_us is not None and t >= self.wdt_fed_us + self.wdt_timeout_us:
            self.reset(WDT_RESET, "watchdog not fed for %d ms" % (self.wdt_timeout_us // 1000))

    def _route(self, gpio, n, t0, t1):
        """n pulses left the chip on gpio: the board decides where they arrive."""
        if self.board is not None:
            arrived = self.board.route(gpio, n, t0, t1)
        else:
            arrived = ((gpio, n),)
        for g, k in arrived:
            for u in self.pcnt:
                if u.src == g and k:
                    u.count(self, k)

    # ------------------------------------------------------------ watchdog, reset

    def reset(self, cause, why=""):
        raise ChipReset(cause, why)

    def panic(self, why):
        """What would crash the chip (Guru Meditation, then a reset)."""
        self.panics.append((self.now_us, why))
        raise ChipReset(HARD_RESET, why)
