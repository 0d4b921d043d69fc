"""The button-to-command tables: one entry per state, and what the table's buttons do.

The tables are read by the real core on the test rig; every command a button gives is
logged (E_COMMAND with its result), refusals included.
"""

import buttons
import programs
from events import E_COMMAND
from rig import Rig
from signals import SW_START, SW_UP
from states import (
    C_ACK,
    C_JOG_RELEASE,
    C_JOG_UP,
    C_PROGRAM,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
    HOMING,
    OK,
    READY,
    RECOVERY,
    STATE_NAMES,
)


def test_every_table_has_one_entry_per_state():
    for t in (buttons.UP_PRESS, buttons.DOWN_PRESS, buttons.START_SHORT,
              buttons.START_LONG):
        assert len(t) == len(STATE_NAMES)
    assert buttons.UP_PRESS[READY] == 0  # nowhere further up at the loading stop
    assert buttons.UP_PRESS[RECOVERY] == C_RECOVER
    assert buttons.DOWN_PRESS[RECOVERY] == 0  # RECOVERY waits for UP or START


def test_the_child_lock_never_blocks_the_way_back():
    import childlock

    for cmd in (C_RECOVER, C_RETURN, C_STOP, C_ACK, C_JOG_RELEASE):
        assert childlock.allowed(cmd)
    for cmd in (C_JOG_UP, C_START, C_PROGRAM):
        assert not childlock.allowed(cmd)


def _press(rig, bits, ms):
    rig.plant.buttons = bits
    rig.tick(ms // 10)
    rig.plant.buttons = 0
    rig.tick(10)


def _commands(rig):
    return [(e[2], e[3]) for e in rig.events(E_COMMAND)]


def test_a_long_start_in_ready_selects_the_next_program():
    rig = Rig()
    rig.boot()
    before = rig.core.program_id
    _press(rig, SW_START, rig.cfg.long_press_ms + 100)
    assert rig.core.program_id == programs.next_program_id(before)
    assert _commands(rig) == [(C_PROGRAM, OK)]


def test_up_at_the_loading_stop_gives_no_command_and_start_while_homing_stops():
    rig = Rig()
    rig.boot()
    _press(rig, SW_UP, 200)
    assert _commands(rig) == []
    _press(rig, SW_START, 100)  # a short START in READY: start the program
    assert rig.core.state == HOMING  # not homed yet: homing first
    _press(rig, SW_START, 100)
    assert rig.core.state == READY
    assert _commands(rig) == [(C_START, OK), (C_STOP, OK)]
