"""The hazard log (hardware/hazards.md) is traceable: every hazard controlled, every
firmware control verified by a test that exists, every Covers: tag names a hazard.

test_hazard_log_is_clean fails while the log lists tests as `pending:`; the failure
message lists them. The synthetic logs below check the checker itself.
"""

import os
import textwrap

from host_tools import hazards

REQUIRED = {
    "HZ-01": "inverted too long",
    "HZ-02": "deeper than the user's limit",
    "HZ-03": "too fast",
    "HZ-04": "stuck inverted",
    "HZ-05": "lost steps",
    "HZ-06": "imu",
    "HZ-07": "e-stop",
    "HZ-08": "stuck button",
    "HZ-09": "over-travel",
    "HZ-10": "settings",
    "HZ-11": "limits raised",
    "HZ-12": "child",
    "HZ-13": "contraindication",
    "HZ-14": "coming up too fast",
}


def test_hazard_log_is_clean():
    """Fails, listing them, while the log names pending or missing tests."""
    report = hazards.check()
    assert report.clean, "\n" + report.text()


def test_log_lists_the_required_hazards():
    report = hazards.check()
    for hid, words in REQUIRED.items():
        assert hid in report.hazards, hid
        assert words in report.hazards[hid]["hazard"].lower(), (hid, words)


def test_every_hazard_has_a_hardware_or_firmware_control():
    # docs alone do not control a hazard of this machine
    report = hazards.check()
    kinds = {}
    for c in report.controls:
        kinds.setdefault(c["hazard"], set()).add(c["type"])
    for hid in report.hazards:
        assert kinds.get(hid, set()) & {"firmware", "hardware"}, hid


# ------------------------------------------------------------ the checker itself

GOOD_LOG = """\
    # Hazard log

    ## Hazards

    | ID | Hazard | Cause | Severity |
    |---|---|---|---|
    | HZ-01 | Held too long | timer | critical |
    | HZ-02 | Too deep | clamp | catastrophic |

    ## Controls

    | Hazard | Type | Control | Verified by |
    |---|---|---|---|
    | HZ-01 | firmware | hold cap | `tests/core/test_demo.py::test_hold_cap` |
    | HZ-02 | hardware | over-travel gate | `hardware/notes.md#gate-check` |
    | HZ-02 | firmware | fault | `tests/core/test_demo.py::TestGate::test_blocks` |
    | HZ-02 | docs | instructions | - |
"""

DEMO_TESTS = '''\
    """Demo tests."""


    def test_hold_cap():
        """Covers: HZ-01"""


    class TestGate:
        def test_blocks(self):
            """Covers: HZ-02, HZ-01"""
'''


def make_repo(tmp_path, log=GOOD_LOG, tests=DEMO_TESTS):
    (tmp_path / "hardware").mkdir(parents=True)
    (tmp_path / "tests" / "core").mkdir(parents=True)
    (tmp_path / "hardware" / "hazards.md").write_text(textwrap.dedent(log))
    (tmp_path / "hardware" / "notes.md").write_text("# Notes\n\n## Gate check\n\ntext\n")
    (tmp_path / "tests" / "core" / "test_demo.py").write_text(textwrap.dedent(tests))
    return str(tmp_path)


def test_a_consistent_log_is_clean(tmp_path):
    report = hazards.check(make_repo(tmp_path))
    assert report.clean, report.text()
    assert set(report.hazards) == {"HZ-01", "HZ-02"}
    assert len(report.controls) == 4
    assert report.covers["tests/core/test_demo.py::test_blocks"] == ["HZ-02", "HZ-01"]


def failures_of(tmp_path, log, tests=DEMO_TESTS):
    report = hazards.check(make_repo(tmp_path, log, tests))
    assert not report.clean
    return "\n".join(report.failures)


def test_must_fail_hazard_without_control(tmp_path):
    log = GOOD_LOG.replace("    | HZ-01 | firmware | hold cap | "
                           "`tests/core/test_demo.py::test_hold_cap` |\n", "")
    assert "HZ-01: hazard has no control" in failures_of(tmp_path, log)


def test_must_fail_firmware_control_without_test(tmp_path):
    log = GOOD_LOG.replace("`tests/core/test_demo.py::test_hold_cap`", "-")
    assert "firmware control names no existing test" in failures_of(tmp_path, log)


def test_must_fail_pending_test(tmp_path):
    log = GOOD_LOG.replace("`tests/core/test_demo.py::test_hold_cap`",
                           "pending: tests/core/test_demo.py::test_not_written")
    text = failures_of(tmp_path, log)
    assert "pending test tests/core/test_demo.py::test_not_written" in text
    report = hazards.check(make_repo(tmp_path / "again", log))
    assert report.pending == [("HZ-01", "tests/core/test_demo.py::test_not_written")]


def test_must_fail_missing_test_file_or_function(tmp_path):
    log = GOOD_LOG.replace("test_demo.py::test_hold_cap", "test_gone.py::test_hold_cap")
    assert "test file tests/core/test_gone.py does not exist" in failures_of(tmp_path, log)
    log = GOOD_LOG.replace("::test_hold_cap", "::test_renamed")
    assert "defines no test_renamed" in failures_of(tmp_path / "b", log)


def test_must_fail_missing_document_or_anchor(tmp_path):
    log = GOOD_LOG.replace("#gate-check", "#no-such-heading")
    assert "has no heading #no-such-heading" in failures_of(tmp_path, log)
    log = GOOD_LOG.replace("hardware/notes.md", "hardware/gone.md")
    assert "document hardware/gone.md does not exist" in failures_of(tmp_path / "b", log)


def test_must_fail_covers_tag_naming_an_unknown_hazard(tmp_path):
    tests = DEMO_TESTS.replace('"""Covers: HZ-01"""', '"""Covers: HZ-99"""')
    text = failures_of(tmp_path, GOOD_LOG, tests)
    assert "tests/core/test_demo.py::test_hold_cap: Covers: HZ-99" in text


def test_must_fail_bad_ids_types_and_severities(tmp_path):
    log = (GOOD_LOG.replace("| HZ-02 | Too deep | clamp | catastrophic |",
                            "| HZ-2 | Too deep | clamp | very bad |")
           .replace("| HZ-02 | docs |", "| HZ-02 | prayer |"))
    text = failures_of(tmp_path, log)
    assert "HZ-2: ID is not HZ-nn" in text
    assert "severity 'very bad'" in text
    assert "type must be one of firmware/hardware/docs" in text
    assert "HZ-02 hardware control 'over-travel gate': no such hazard" in text


def test_must_fail_duplicate_id_and_missing_table(tmp_path):
    log = GOOD_LOG.replace("| HZ-02 | Too deep |", "| HZ-01 | Too deep |")
    assert "HZ-01: ID used twice" in failures_of(tmp_path, log)
    log = GOOD_LOG.split("## Controls")[0]
    assert "Controls: table missing" in failures_of(tmp_path / "b", log)


def test_cli_exit_status(tmp_path, capsys):
    root = make_repo(tmp_path)
    assert hazards.main(["--root", root]) == 0
    assert "clean" in capsys.readouterr().out
    bad = make_repo(tmp_path / "bad", GOOD_LOG.replace("critical", "awful"))
    assert hazards.main(["--root", bad]) == 1


def test_anchor_slugs_follow_github():
    assert hazards.slug(" 6. Over-travel STEP gate") == "6-over-travel-step-gate"
    assert hazards.slug("Who covers what") == "who-covers-what"
    assert os.path.isfile(hazards.LOG)
