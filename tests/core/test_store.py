"""Persistence: record format, exhaustive corruption and truncation, power cuts, history.

The fakes it uses (MemFS: flash that can lose power mid-write; scratch_fs: a real DirFS
under build/) are in fakes.py, shared with the other tests.
"""

import store
from fakes import MemFS, remove_scratch, scratch_fs
from history import FAULTS_KEPT, SESSIONS_KEPT, FaultLog, History
from store import CORRUPT, MISSING, OK, WRITE_FAILED
from wallclock import MAX_T, NO_TIME

SMALL = {"a": 1, "b": [2, 3]}  # small record: the exhaustive loops stay quick


# --- format and round trip ---


def test_record_layout_is_magic_version_length_crc_payload():
    import binascii

    data = store.encode(SMALL)
    payload = data[store.HEADER_LEN:]
    assert data[:4] == b"ITC1"
    assert data[4:6] == b"\x01\x00"
    assert int.from_bytes(data[6:10], "little") == len(payload)
    assert int.from_bytes(data[10:14], "little") == binascii.crc32(payload) & 0xFFFFFFFF
    assert store.decode(data) == SMALL


def test_round_trip_and_missing():
    fs = MemFS()
    assert store.load(fs, "p", "dflt") == ("dflt", MISSING)
    assert store.save(fs, "p", SMALL) == OK
    assert store.load(fs, "p", None) == (SMALL, OK)
    assert sorted(fs.listdir()) == ["p"]  # no .tmp left behind


def test_round_trip_on_a_real_directory():
    fs = scratch_fs("store")
    try:
        assert store.load(fs, "cfg", 7) == (7, MISSING)
        assert store.save(fs, "cfg", SMALL) == OK
        assert store.save(fs, "cfg", {"x": 2}) == OK  # rename over an existing file
        assert store.load(fs, "cfg", None) == ({"x": 2}, OK)
        assert fs.listdir() == ["cfg"]
        store.delete(fs, "cfg")
        assert store.load(fs, "cfg", 0) == (0, MISSING)
    finally:
        remove_scratch(fs)


def test_too_large_payload_is_a_programming_error():
    e = None
    try:
        store.encode({"s": "x" * (store.MAX_PAYLOAD + 1)})
    except ValueError as err:
        e = err
    assert e is not None and "exceeds" in str(e)


# --- corruption: exhaustive ---


def _expect_corrupt(bad):
    fs = MemFS({"r": bytearray(bad)})
    obj, status = store.load(fs, "r", "safe")
    assert status == CORRUPT and obj == "safe", (bad, status)
    assert "r" not in fs.files and bytes(fs.files["r.bad"]) == bytes(bad)


def test_every_single_byte_corruption_is_detected():
    good = store.encode(SMALL)
    for i in range(len(good)):
        for v in range(256):
            if v != good[i]:
                bad = bytearray(good)
                bad[i] = v
                _expect_corrupt(bad)


def test_every_truncation_and_an_extension_is_detected():
    good = store.encode(SMALL)
    for n in range(len(good)):
        _expect_corrupt(good[:n])
    _expect_corrupt(good + b"\x00")


def test_valid_crc_over_bad_json_is_corrupt():
    import binascii
    import struct

    for payload in (b"{not json", b"\xff\xfe"):
        crc = binascii.crc32(payload) & 0xFFFFFFFF
        _expect_corrupt(struct.pack("<4sHII", b"ITC1", 1, len(payload), crc) + payload)


def test_only_the_newest_bad_copy_is_kept_and_load_never_raises():
    fs = MemFS({"r": bytearray(b"first bad")})
    assert store.load(fs, "r", 0) == (0, CORRUPT)
    fs.files["r"] = bytearray(b"second bad")
    assert store.load(fs, "r", 0) == (0, CORRUPT)
    assert bytes(fs.files["r.bad"]) == b"second bad"
    assert store.load(fs, "r", 0) == (0, MISSING)  # moved away until the caller saves
    fs = MemFS({"r": bytearray(store.encode(SMALL))}, fail_read=True)
    assert store.load(fs, "r", 1) == (1, CORRUPT)  # an I/O error reads as corrupt


# --- power cuts ---


def _cut_at_every_byte(old):
    new = {"a": 2, "b": [4, 5, 6]}
    size = len(store.encode(new))
    for cut in range(size + 1):
        files = {}
        if old is not None:
            assert store.save(MemFS(files), "r", old) == OK
        status = store.save(MemFS(files, fail_after_bytes=cut), "r", new)
        assert status == (OK if cut == size else WRITE_FAILED)
        got, status = store.load(MemFS(files), "r", "default")  # after the reboot
        if old is None:
            assert (got, status) in ((new, OK), ("default", MISSING)), (cut, got, status)
        else:
            assert status == OK and got in (old, new), (cut, got, status)
        assert "r.tmp" not in files  # the cut write is cleaned up at load


def test_power_cut_during_a_write_leaves_the_old_or_the_new_record():
    _cut_at_every_byte(SMALL)


def test_power_cut_during_the_first_write_leaves_nothing_or_the_new_record():
    _cut_at_every_byte(None)


def test_power_cut_at_the_rename_keeps_the_old_record():
    files = {}
    store.save(MemFS(files), "r", SMALL)
    assert store.save(MemFS(files, fail_rename=True), "r", {"new": 1}) == WRITE_FAILED
    assert store.load(MemFS(files), "r", None) == (SMALL, OK)
    assert list(files) == ["r"]


def test_a_complete_tmp_without_its_file_is_promoted():
    # A first save cut before its rename, or a filesystem whose rename cannot replace.
    files = {"r.tmp": bytearray(store.encode(SMALL))}
    assert store.load(MemFS(files), "r", None) == (SMALL, OK)
    assert list(files) == ["r"]
    files = {"r.tmp": bytearray(store.encode(SMALL)[:-1])}  # incomplete: dropped
    assert store.load(MemFS(files), "r", None) == (None, MISSING)
    assert files == {}


def test_write_failure_keeps_the_old_record():
    files = {}
    store.save(MemFS(files), "r", SMALL)
    assert store.save(MemFS(files, fail_after_bytes=0), "r", {"z": 0}) == WRITE_FAILED
    assert store.load(MemFS(files), "r", None) == (SMALL, OK)


# --- history rings ---


def test_history_ring_keeps_the_newest_and_counts_all():
    files = {}
    h = History(MemFS(files))
    assert h.load() == MISSING
    for i in range(SESSIONS_KEPT + 8):
        assert h.add(1, i % 8, 20000 + i, 60000, 0) == OK
    assert h.count == SESSIONS_KEPT + 8 and len(h.entries) == SESSIONS_KEPT
    h2 = History(MemFS(files))
    assert h2.load() == OK
    assert h2.count == SESSIONS_KEPT + 8 and h2.entries == h.entries
    newest = [h2.entry(i) for i in h2.last(2)]
    assert newest[0][0] == SESSIONS_KEPT + 8 and newest[1][0] == SESSIONS_KEPT + 7
    # (number, program, level, deepest, head-down, ended, profile id, time: none given)
    assert newest[0] == (SESSIONS_KEPT + 8, 1, (SESSIONS_KEPT + 7) % 8,
                         20000 + SESSIONS_KEPT + 7, 60000, 0, 1, NO_TIME)
    assert h2.entries[0][0] == 9  # the first 8 fell out of the ring


def test_history_record_fits_the_store_when_full():
    h = History(MemFS())
    for _ in range(SESSIONS_KEPT):
        assert h.add(3, 7, 60000, 600000, 4, 255, MAX_T) == OK
    h.count = 999999999
    files = {}
    h.fs = MemFS(files)
    assert h.save() == OK and len(files["history"]) < store.MAX_PAYLOAD


def test_corrupt_or_misshapen_history_starts_empty():
    files = {"history": bytearray(b"garbage")}
    h = History(MemFS(files))
    assert h.load() == CORRUPT and h.entries == [] and h.count == 0
    store.save(MemFS(files), "history", {"sessions": 3, "entries": [[1, 2]]})
    assert h.load() == CORRUPT and h.entries == []


def test_fault_log_counts_boots_and_keeps_the_newest_faults():
    files = {}
    log = FaultLog(MemFS(files))
    assert log.load() == MISSING
    assert log.new_boot() == OK and log.boot == 1
    for i in range(FAULTS_KEPT + 3):
        log.add(20 + i, i)
    log2 = FaultLog(MemFS(files))
    assert log2.load() == OK
    assert log2.new_boot() == OK and log2.boot == 2
    assert len(log2.entries) == FAULTS_KEPT
    assert log2.entries[-1] == [20 + FAULTS_KEPT + 2, 1, FAULTS_KEPT + 2, NO_TIME]
    log2.add(21, 0, 12345)
    assert log2.entries[-1] == [21, 2, 0, 12345]
