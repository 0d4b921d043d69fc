"""UART0, the USB console (through the board's USB-serial bridge): `sys` and `select`.

Owns the console's bytes both ways and what they cost the CPU.
TX: mp_hal_stdout_tx_strn -> uart_stdout_tx_strn (ports/esp32/uart.c) fills the
128-byte hardware FIFO and, while it is full, waits one RTOS tick
(ulTaskNotifyTake(pdFALSE, 1): 10 ms) at a time: a long write blocks the loop.
RX: the UART ISR (uart_irq_handler) turns the interrupt character into
mp_sched_keyboard_interrupt() - a KeyboardInterrupt raised at the VM's next pending
check - and queues every other byte for stdin with ringbuf_put() (ports/esp32/uart.c,
uart_irq_handler: `ringbuf_put(&stdin_ringbuf, rbuf[i]);`, its result unchecked). The
ring is `static uint8_t stdin_ringbuf_array[260];` (ports/esp32/mphalport.c) and
ringbuf_put() (py/ringbuf.h) keeps one slot free: `if (iput_new == r->iget) return -1;`.
So it holds 259 bytes, and a byte arriving while it is full is lost, silently (micropython
at 1c3c201). The DevKitC's USB goes through a UART bridge (CP2102/CH340) to UART0: this
path. (Boards whose USB is the chip's own USB-serial-JTAG or TinyUSB CDC read only
ringbuf_free() bytes and leave the rest in the USB FIFO: no loss there.)
"""

import sys

_FIFO = 128  # SOC_UART_FIFO_LEN on the ESP32
_RTOS_TICK_US = 10000  # CONFIG_FREERTOS_HZ = 100
_BAUD = 115200
RX_RING = 259  # stdin_ringbuf_array[260], one slot kept free by ringbuf_put()


class Uart:
    def __init__(self, chip):
        self._chip = chip
        self._byte_us = 10 * 1000000 // _BAUD  # 8N1: 10 bits a byte (86 us)
        self._fifo = bytearray()
        self._t = 0  # time the FIFO was last drained to
        self.sent = bytearray()  # on the wire: what the host has received
        self.rx = bytearray()  # waiting for stdin: the ring, at most RX_RING bytes
        self.rx_lost = 0  # bytes the ISR dropped with the ring full
        self.blocked_us = 0  # time the CPU spent waiting for FIFO room

    def _drain(self):
        now = self._chip.now_us
        n = (now - self._t) // self._byte_us
        if n > 0:
            if n > len(self._fifo):
                n = len(self._fifo)
            self.sent += self._fifo[:n]
            del self._fifo[:n]
            self._t += n * self._byte_us
        if not self._fifo:
            self._t = now

    def write_blocking(self, data):
        chip = self._chip
        i = 0
        while i < len(data):
            self._drain()
            room = _FIFO - len(self._fifo)
            if room > 0:
                self._fifo += data[i:i + room]
                i += room
                continue
            t0 = chip.now_us
            chip.block(_RTOS_TICK_US)
            self.blocked_us += chip.now_us - t0

    # ------------------------------------------------------------ host side

    def host_receive(self):
        self._drain()
        out = bytes(self.sent)
        self.sent = bytearray()
        return out

    def host_send(self, data):
        """data arrives now, as the ISR handles it (a caller paces it at the baud rate:
        115 bytes a 10 ms pass at most)."""
        chip = self._chip
        for b in data:
            if b == chip.kbd_char:
                chip.kbd_pending = True
            elif len(self.rx) < RX_RING:
                self.rx.append(b)
            else:
                self.rx_lost += 1  # ringbuf_put() returned -1: no one is told


class _Buffer:
    def __init__(self, uart):
        self._uart = uart

    def readinto(self, buf):
        rx = self._uart.rx
        n = min(len(buf), len(rx))
        buf[:n] = rx[:n]
        del rx[:n]
        return n


class Stdin:
    def __init__(self, uart):
        self.buffer = _Buffer(uart)
        self._uart = uart


class Stdout:
    def __init__(self, uart):
        self._uart = uart

    def write(self, data):
        from host_tools.chip import core

        core.current.pending()
        if isinstance(data, str):
            data = data.encode()
        self._uart.write_blocking(bytes(data))
        return len(data)


class SysModule:
    """The `sys` board_esp32 and main.py see: stdin/stdout on UART0, print_exception."""

    def __init__(self, uart):
        self.stdin = Stdin(uart)
        self.stdout = Stdout(uart)
        # the firmware's modules are the host's: main.py drops its boot-only ones here
        self.modules = sys.modules

    def print_exception(self, e):
        import traceback

        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        self.stdout.write(text.replace("\n", "\r\n"))


class _Poll:
    def __init__(self):
        self._objs = []

    def register(self, obj, mask=1):
        self._objs.append(obj)

    def ipoll(self, timeout=-1):
        for o in self._objs:
            if isinstance(o, Stdin) and o._uart.rx:
                yield (o, 1)


class SelectModule:
    POLLIN = 1

    @staticmethod
    def poll():
        return _Poll()
