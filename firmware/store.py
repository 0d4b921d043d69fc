"""Safe persistence: one checked record per file, written so a power cut never breaks it.

Owns the record format, the write-then-rename protocol, and the recovery rules. Every
other persistent module (profiles, history, auth) goes through save() and load().

Record: b"ITC1" | format version (u16 LE) | payload length (u32 LE) | CRC32 of the
payload (u32 LE) | payload (UTF-8 JSON). A file is accepted only if the magic, the
version, the exact length and the CRC all match and the payload parses.

save(fs, name, obj) writes name + ".tmp", closes it, then renames it over name. On
littlefs (the ESP32) and POSIX (the unix port, the simulator) a rename replaces the
target atomically, so after a power cut the file is the old record or the new one.

load(fs, name, default) -> (obj, status) never raises for a bad or missing file:
- OK: the record is valid (a leftover .tmp from a cut write is deleted).
- MISSING: no file; the default is returned. If only a valid .tmp exists (a first
  save cut before its rename, or a filesystem whose rename cannot replace), it is
  promoted to name and returned with OK.
- CORRUPT: bad magic, version, length, CRC or JSON, or a read error; the file is
  kept as name + ".bad" (the newest only) for diagnosis and the default is returned.
  The caller passes safe defaults, so corruption never raises a limit. A CORRUPT
  file is moved away, so the next load reports MISSING until the caller saves again.

`fs` is any object with open(name, mode), rename(a, b), remove(name), exists(name),
isdir(name) and listdir(); names are relative to the fs root. DirFS is the real one; tests pass
fakes that fail mid-write. Runs once per session or command: it may allocate.
"""

import binascii
import json
import struct

from flashgate import gate_of
from micropython import const

OK = const(0)
MISSING = const(1)
CORRUPT = const(2)
WRITE_FAILED = const(3)  # save() only: the old record (if any) is still in place
DEFERRED = const(4)  # save() only: waits for standstill (firmware/flashgate.py)

MAGIC = b"ITC1"
FORMAT_VERSION = const(1)
_HEADER = "<4sHII"  # magic, version, payload length, payload CRC32
HEADER_LEN = const(14)  # struct.calcsize(_HEADER)
# Largest payload accepted: the history ring (32 sessions) is about 1 KB of JSON;
# 4 KB leaves room and bounds what a corrupted length field can make load() allocate.
MAX_PAYLOAD = const(4096)

TMP = ".tmp"
BAD = ".bad"

_ENOENT = const(2)


def status_name(status):
    """The word for a status (the console's warnings), or its number as text."""
    words = "ok missing corrupt write_failed deferred".split()
    return words[status] if type(status) is int and 0 <= status < len(words) else str(status)


def encode(obj):
    """The record bytes for obj (JSON-serialisable). ValueError if it is too large."""
    payload = json.dumps(obj).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("record payload %d bytes exceeds %d" % (len(payload), MAX_PAYLOAD))
    crc = binascii.crc32(payload) & 0xFFFFFFFF
    return struct.pack(_HEADER, MAGIC, FORMAT_VERSION, len(payload), crc) + payload


def decode(data):
    """The object in a record's bytes, or raise ValueError saying what is wrong."""
    if len(data) < HEADER_LEN:
        raise ValueError("truncated header (%d bytes)" % len(data))
    magic, version, length, crc = struct.unpack(_HEADER, data[:HEADER_LEN])
    if magic != MAGIC:
        raise ValueError("bad magic")
    if version != FORMAT_VERSION:
        raise ValueError("format version %d, expected %d" % (version, FORMAT_VERSION))
    if length > MAX_PAYLOAD or len(data) != HEADER_LEN + length:
        raise ValueError("length %d does not match the file (%d bytes)" % (length, len(data)))
    payload = data[HEADER_LEN:]
    if binascii.crc32(payload) & 0xFFFFFFFF != crc:
        raise ValueError("CRC mismatch")
    try:
        return json.loads(payload)
    except (ValueError, UnicodeError):  # MicroPython raises UnicodeError for bad UTF-8
        raise ValueError("payload is not valid JSON")


def _read(fs, name):
    # One byte more than the largest valid record, so an over-long file is seen as such.
    with fs.open(name, "rb") as f:
        return f.read(HEADER_LEN + MAX_PAYLOAD + 1)


def _quiet_remove(fs, name):
    try:
        fs.remove(name)
    except OSError:
        pass


def _is_enoent(e):
    return len(e.args) > 0 and e.args[0] == _ENOENT


def save(fs, name, obj):
    """Write obj to name atomically: name.tmp, close, rename. Returns OK, WRITE_FAILED, or
    DEFERRED when fs carries a flash gate and the drive may be pulsing: the record (obj
    as it is now) is written at standstill, and lost if the power fails first (the old
    record stays; firmware/flashgate.py).

    Never raises for a filesystem error (the caller reports WRITE_FAILED as a storage
    fault); the previous record stays valid. Raises ValueError/TypeError for an object
    that cannot be stored - a programming error.
    """
    data = encode(obj)
    gate = gate_of(fs)
    if gate is None:
        return _write(fs, name, data)
    return gate.submit(name, lambda: _write(fs, name, data))


def _write(fs, name, data):
    tmp = name + TMP
    try:
        with fs.open(tmp, "wb") as f:
            n = f.write(data)
        if n is not None and n != len(data):
            raise OSError(28)  # short write: ENOSPC
        fs.rename(tmp, name)
        return OK
    except OSError:
        _quiet_remove(fs, tmp)
        return WRITE_FAILED


def _preserve_bad(fs, name):
    # Keep only the newest bad copy; remove first for filesystems whose rename won't replace.
    _quiet_remove(fs, name + BAD)
    try:
        fs.rename(name, name + BAD)
    except OSError:
        _quiet_remove(fs, name)


def _promote_tmp(fs, name):
    """A valid leftover .tmp when name is absent: move it into place; (obj, OK) or None."""
    tmp = name + TMP
    try:
        obj = decode(_read(fs, tmp))
    except (OSError, ValueError):
        _quiet_remove(fs, tmp)
        return None
    try:
        fs.rename(tmp, name)
    except OSError:
        pass  # still usable now; the next save writes name properly
    return obj, OK


def load(fs, name, default):
    """(obj, status) with status OK, MISSING or CORRUPT; never raises for file trouble."""
    try:
        data = _read(fs, name)
    except OSError as e:
        if _is_enoent(e):
            got = _promote_tmp(fs, name)
            if got is not None:
                return got
            return default, MISSING
        _preserve_bad(fs, name)  # unreadable (I/O error): treat as corrupt
        _quiet_remove(fs, name + TMP)
        return default, CORRUPT
    try:
        obj = decode(data)
    except ValueError:
        _preserve_bad(fs, name)
        _quiet_remove(fs, name + TMP)
        return default, CORRUPT
    # name is valid: a leftover .tmp is a write cut before its rename; the old record wins.
    _quiet_remove(fs, name + TMP)
    return obj, OK


def delete(fs, name):
    """Remove a record and its leftover .tmp (not the .bad diagnosis copy)."""
    _quiet_remove(fs, name + TMP)
    _quiet_remove(fs, name)


class DirFS:
    """The filesystem operations store needs, on a directory via os.

    root "" or "/" on the board (littlefs), a host directory in the simulator and the
    tests. On littlefs and POSIX, os.rename replaces an existing target atomically.
    """

    def __init__(self, root="", gate=None):
        if root and not root.endswith("/"):
            root = root + "/"
        self.root = root
        self.gate = gate  # the app's FlashGate (firmware/flashgate.py): None writes at once

    def path(self, name):
        return self.root + name

    def open(self, name, mode):
        return open(self.path(name), mode)

    def rename(self, a, b):
        import os

        try:
            os.rename(self.path(a), self.path(b))
        except OSError:
            # A filesystem whose rename refuses an existing target (FAT): not atomic,
            # but the complete .tmp survives a cut here and load() promotes it.
            if not self.exists(b):
                raise
            os.remove(self.path(b))
            os.rename(self.path(a), self.path(b))

    def remove(self, name):
        import os

        os.remove(self.path(name))

    def exists(self, name):
        import os

        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def isdir(self, name):
        import os

        try:
            return bool(os.stat(self.path(name))[0] & 0x4000)  # S_IFDIR
        except OSError:
            return False

    def listdir(self):
        import os

        return os.listdir(self.root or ".")
