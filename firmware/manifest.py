"""The firmware manifest (issue #21): what deploy wrote, checked at every boot.

host_tools/deploy.py removes `manifest.txt` before it changes anything and writes it
again after the last file is in place, so a deploy cut short at any point, a power cut
during a copy, or a file changed outside deploy leaves files that the manifest does not
vouch for. The file, ASCII, one item per line:

    itc-manifest 1
    build <the build identity: git describe --always --dirty>
    <sha256 hex> <size in bytes> <file name>        one line per file deploy wrote
    end <number of file lines>

check() hashes every listed file where the firmware's imports find it: the board's
root first, then /rom (a ROMFS partition, the virtual device's built-in firmware), as
sys.path ['', '/rom'] does. A module in the root that the manifest does not list is a
mismatch too: `app.py` next to a listed `app.mpy` is what `import app` would load. So
is any directory in the root: MicroPython's import takes a directory NAME before
NAME.py and NAME.mpy in the same sys.path entry, with or without an __init__ (a
namespace package; micropython py/builtinimport.c stat_module), and the ESP32's
sys.path is ['', '.frozen', '/lib'] (ports/esp32/main.c appends /lib), searched before
the extensible built-ins such as hashlib or os: a /lib is a directory in the root. The
firmware keeps its records as files in the root and makes no directory; the one
allowed is the mount point of /rom, which is not on the root filesystem.
Any problem is a boot fault (faults.MANIFEST) that allows no motion but the slow
return; it cannot be acknowledged, since only a deploy and a reset change the files.

What it is for (README, "The firmware manifest"): a deploy cut short, a power cut
during a copy, corruption, a file changed or added outside deploy. It is no defence
against a deliberate change by someone in the service mode: the list is an unkeyed
sha256 list on the same filesystem (a changed module with a regenerated line passes),
and boot.py, main.py and whatever they import run before or around the check. The
digest and hex come from the built-in modules forced by their `u` names (a
non-extensible lookup that no file can shadow: py/objmodule.c mp_module_get_builtin),
but store's `os` is an extensible built-in a file could replace; the route against a
deliberate change is the ESP32's secure boot with flash encryption (README).

A board whose firmware is not deployed files - the host simulator, which imports
firmware/ from the source tree - has board.code_root None and is not checked
(firmware/app.py); a real board and the virtual device always are: deleting the
manifest is a fault, never a way around the check.

Runs once at boot, before the watchdog is armed: it may allocate (one line and one
512-byte buffer at a time; never the whole manifest).
"""

try:  # the built-ins themselves, never a file (module docstring)
    import ubinascii as binascii  # pyright: ignore[reportMissingImports]
    import uhashlib as hashlib  # pyright: ignore[reportMissingImports]
except ImportError:  # CPython
    import binascii
    import hashlib

from micropython import const

NAME = "manifest.txt"
ROM = "/rom"  # where a ROMFS partition is mounted; absent on a stock ESP32_GENERIC
# Directories allowed in the code root: the /rom mount point, which a listing of the
# root shows (extmod/vfs.c) but is not on it. The firmware makes no directory.
DIRS_ALLOWED = ("rom",)
MAGIC = b"itc-manifest 1"
NOT_DEPLOYED = "source tree, not deployed (no manifest to check)"
_CHUNK = const(512)  # read size: one littlefs block is 4 KB; 512 B keeps the heap calm
_MAX_LINE = const(160)  # 64 hex + size + a name: a longer line is not a manifest's


def _line(f):
    """The next line without its end, or None at the end of the file or for a line
    longer than any a manifest has."""
    b = f.readline(_MAX_LINE)
    if not b or b[-1:] != b"\n":
        return None
    return b[:-1]


def file_digest(fs, name, buf):
    """(sha256 as hex bytes, size) of fs's file name, read into buf chunk by chunk.
    OSError if it cannot be read."""
    h = hashlib.sha256()
    mv = memoryview(buf)
    size = 0
    with fs.open(name, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            h.update(mv[:k])
            size += k
    return binascii.hexlify(h.digest()), size


def _entry(fs, rom, words, buf, in_root):
    """The problem with one file line (words: digest, size, name), or None. Appends
    the name to in_root when the root has it."""
    digest, size, name = words
    name = name.decode()
    where = fs if fs.exists(name) else rom if rom.exists(name) else None
    if where is None:
        return "%s is missing" % name
    if where is fs:
        in_root.append(name)
    try:
        got, got_size = file_digest(where, name, buf)
    except OSError:
        return "%s cannot be read" % name
    if got_size != int(size) or got != digest:
        return "%s differs from the manifest" % name
    return None


def _stray(fs, in_root):
    """A module or directory in the root that the manifest does not list (imported
    before a listed one of the same name, or on its own), or None."""
    for n in fs.listdir():
        if n in in_root:
            continue
        if fs.isdir(n):
            if n not in DIRS_ALLOWED:
                return n + "/"
        elif n.endswith(".py") or n.endswith(".mpy"):
            return n
    return None


def _verify(f, fs, rom):
    if _line(f) != MAGIC:
        return None, "%s is not a manifest" % NAME
    b = _line(f)
    if b is None or not b.startswith(b"build "):
        return None, "%s has no build line" % NAME
    build = b[6:].decode()
    buf = bytearray(_CHUNK)
    in_root = []
    n = 0
    while True:
        b = _line(f)
        words = b.split(b" ") if b is not None else ()
        if len(words) == 2 and words[0] == b"end" and words[1] == str(n).encode():
            break
        if len(words) != 3 or len(words[0]) != 64 or not words[1].isdigit():
            return build, "%s is damaged or cut short after %d files" % (NAME, n)
        problem = _entry(fs, rom, words, buf, in_root)
        if problem is not None:
            return build, problem
        n += 1
    if f.read(1):
        return build, "%s has lines after its end" % NAME
    stray = _stray(fs, in_root)
    if stray is not None:
        return build, "%s is not in the manifest" % stray
    return build, None


def check(fs, rom):
    """(build, problem) for the deployed firmware: build is the manifest's build
    identity (None if it has none), problem None if every listed file matches and no
    unlisted module is in the root, else what is wrong, in words.

    fs: the root the firmware imports from first; rom: /rom (store's fs interface:
    open, exists, listdir, isdir; file objects with readline, readinto, read)."""
    try:
        f = fs.open(NAME, "rb")
    except OSError:
        return None, "no %s: a deploy cut short, or files copied outside deploy" % NAME
    try:
        return _verify(f, fs, rom)
    except (OSError, ValueError, UnicodeError) as e:
        return None, "%s cannot be read (%r)" % (NAME, e)
    finally:
        f.close()
