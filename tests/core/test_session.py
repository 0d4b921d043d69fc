"""Session: the head-down clock, the deepest angle, the cap, the end reason.

head_down_mdeg from the default config; angles well either side of it.
"""

from profiles import ABORTED, COMPLETED, DISCOMFORT, EMERGENCY
from profiles import FAULT as ENDED_BY_FAULT
from session import Session
from support import make_config


def test_only_head_down_time_counts_and_the_cap_fires_once():
    cfg = make_config()
    s = Session(cfg)
    down = cfg.head_down_mdeg + 10000
    assert s.begin(-60000)
    assert s.deepest_mdeg == 0  # a session starts no shallower than horizontal
    assert not s.clock(10, cfg.head_down_mdeg, 25)  # at the threshold: not head-down
    assert s.head_down_ms == 0
    assert not s.clock(10, down, 25)
    assert not s.clock(10, down, 25)
    assert s.clock(10, down, 25)  # 30 ms >= 25: the tick it is reached
    assert s.cap_reached and s.head_down_ms == 30
    assert not s.clock(10, down, 25)
    assert s.deepest_mdeg == down


def test_begin_twice_keeps_the_running_session():
    s = Session(make_config())
    assert s.begin(5000)
    s.clock(10, 30000, 100000)
    assert not s.begin(0)
    assert s.deepest_mdeg == 30000


def test_end_reason_priority():
    s = Session(make_config())
    s.begin(0)
    assert s.end() == COMPLETED and not s.active
    for flags, how in (
        (("aborted",), ABORTED),
        (("aborted", "fault"), ENDED_BY_FAULT),
        (("fault", "discomfort"), DISCOMFORT),
        (("discomfort", "emergency", "aborted"), EMERGENCY),
    ):
        s.begin(0)
        for f in flags:
            setattr(s, f, True)
        assert s.end() == how, flags
    s.begin(0)
    assert s.end() == COMPLETED  # begin() clears what the last session set
