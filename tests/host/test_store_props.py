"""Property tests of the store (CPython only): arbitrary records, random corruption,
random sequences of writes interrupted by power cuts, and DirFS on a real directory."""

import json

import store
from fakes import MemFS
from hypothesis import given, settings
from hypothesis import strategies as st
from store import CORRUPT, MISSING, OK, WRITE_FAILED, DirFS

# What the firmware stores: ints, strings, bools, lists and string-keyed dicts.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_record_round_trips(obj):
    fs = MemFS()
    assert store.save(fs, "r", obj) == OK
    assert store.load(fs, "r", "default") == (obj, OK)


@settings(max_examples=300, deadline=None)
@given(json_values, st.data())
def test_random_damage_is_detected(obj, data):
    good = store.encode(obj)
    bad = bytearray(good)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(bad) - 1))
        bad[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(bad)))
    bad = bad[:cut]
    fs = MemFS({"r": bad})
    got, status = store.load(fs, "r", "default")
    if bytes(bad) == good:
        assert (got, status) == (obj, OK)
    else:
        assert (got, status) == ("default", CORRUPT)
        assert bytes(fs.files["r.bad"]) == bytes(bad)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(-1, 80), st.booleans()),
                min_size=1, max_size=12))
def test_writes_cut_by_power_failures_never_break_the_record(steps):
    """Each step saves a new value; power may fail after some bytes or at the rename.
    After every reboot the record is the last committed value or the one being written."""
    files = {}
    committed = None
    for value, cut, at_rename in steps:
        obj = {"v": value}
        fs = MemFS(files, fail_after_bytes=cut, fail_rename=at_rename)
        status = store.save(fs, "r", obj)
        got, load_status = store.load(MemFS(files), "r", None)  # reboot
        if status == OK:
            committed = obj
            assert (got, load_status) == (obj, OK)
        else:
            assert status == WRITE_FAILED
            if committed is None:
                assert load_status in (OK, MISSING) and got in (None, obj)
            else:
                assert load_status == OK and got in (committed, obj)
            committed = got if load_status == OK else committed
        assert set(files) <= {"r"}


@settings(max_examples=50, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=4))
def test_dirfs_keeps_the_last_record(tmp_path_factory, objs):
    root = str(tmp_path_factory.mktemp("dirfs"))
    fs = DirFS(root)
    for obj in objs:
        assert store.save(fs, "rec", obj) == OK
    assert store.load(DirFS(root + "/"), "rec", None) == (objs[-1], OK)
    with open(root + "/rec", "rb") as f:
        raw = f.read()
    assert raw[:4] == b"ITC1" and json.loads(raw[store.HEADER_LEN:]) == objs[-1]
    assert fs.listdir() == ["rec"]
