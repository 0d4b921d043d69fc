"""Stored files damaged the ways a power cut, a flash fault or a bad write damage them.

    corrupt_file(fs_root, "profiles", "truncate", seed)   # one of CORRUPTIONS

FILES are the files the firmware stores; each corruption is one small function
(_CORRUPT), all of them seeded so a sequence reproduces.
"""

import os
import random

from host_tools import paths

paths.use_firmware()

import store  # noqa: E402  (firmware/)

FILES = ("settings", "profiles", "history", "faults", "pin", "authstate")
RANDOM_FILES = FILES  # the damage the random runs draw from: every kind
CORRUPTIONS = ("flip", "truncate", "empty", "garbage", "delete", "tmp_garbage", "tmp_only",
               "bad_values", "wrong_version")


def _bad_values(name):
    return {
        "settings": {"emergency_speed_mdeg_s": 1, "soft_max_mdeg": 90000},
        "profiles": {"profiles": [{"name": "default", "consent": True, "max_mdeg": 90000,
                                   "hold_max_ms": 3600000, "session_cap_ms": -5}]},
        "history": {"sessions": -1, "entries": "x"},
        "faults": {"boots": "many", "entries": [[1, 2]]},
        "pin": {"salt": "zz", "hash": 5},
        "authstate": {"failures": -3, "lockout_ms": "x", "child_lock": 2},
    }.get(name, {"x": 1})


def corrupt_file(fs_root, name, how, seed=0):
    """Damage stored file `name` in fs_root the way `how` says (CORRUPTIONS)."""
    if how not in _CORRUPT:
        raise ValueError("unknown corruption %r" % (how,))
    rng = random.Random(seed)
    path = os.path.join(fs_root, name)
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    out = _CORRUPT[how](rng, path, name, data)
    if out is not None:
        _write(path, out)


# Each corruption: (rng, path, file name, its bytes) -> the bytes to write instead, or
# None when it has changed the files itself.


def _flip(rng, path, name, data):
    b = bytearray(data or store.encode({"x": 1}))
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def _delete(rng, path, name, data):
    if os.path.exists(path):
        os.remove(path)


def _tmp_garbage(rng, path, name, data):
    _write(path + ".tmp", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))))


def _tmp_only(rng, path, name, data):
    # a first save cut between close and rename: only a complete .tmp exists
    if data:
        _delete(rng, path, name, data)
        _write(path + ".tmp", data)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


_CORRUPT = {
    "flip": _flip,
    "truncate": lambda rng, path, name, data: data[: rng.randrange(len(data))] if data
    else b"IT",
    "empty": lambda rng, path, name, data: b"",
    "garbage": lambda rng, path, name, data: bytes(
        rng.randrange(256) for _ in range(rng.randrange(1, 200))),
    "delete": _delete,
    "tmp_garbage": _tmp_garbage,
    "tmp_only": _tmp_only,
    "bad_values": lambda rng, path, name, data: store.encode(_bad_values(name)),
    "wrong_version": lambda rng, path, name, data: (data[:4] + b"\x07\x00" + data[6:])
    if len(data) >= 6 else b"ITC1\x07\x00",
}


# ------------------------------------------------------------------ the harness
