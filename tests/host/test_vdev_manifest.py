"""The firmware manifest on the virtual device (issue #21), with the real mpremote: a
deploy cut short after its first file boots into the MANIFEST fault.

tests/host/test_deploy_manifest.py cuts a deploy after every change in turn on the
simulated board; this is the same thing once, end to end: the vdev's own manifest of
its built-in firmware, the real deploy's commands through the real mpremote in the
service mode, a reset, and the console of the firmware that boots. Reuses
test_vdev.py's Vdev.
"""

import os

import pytest
from test_vdev import ISSUE21_HEAP, SPEED, Vdev, _mpremote, console
from test_vdev import pytestmark as _needs_tools

from host_tools import deploy

pytestmark = _needs_tools


class _CutBoard(deploy.Board):
    """The real mpremote, but the power fails after the first `keep` commands of the
    copy (the board's report before it runs whole)."""

    def __init__(self, port, keep):
        super().__init__(port, say=lambda s: None)
        self.keep = keep

    def run(self, *commands, timeout=120):
        if list(commands) == [["exec", deploy._QUERY]]:
            return super().run(*commands, timeout=timeout)
        super().run(*commands[:self.keep], timeout=timeout)
        raise deploy.DeployError("cut after %d commands" % self.keep)


def test_a_deploy_cut_after_its_first_file_boots_into_the_manifest_fault(tmp_path,
                                                                       monkeypatch, code_dir):
    v = Vdev(tmp_path, "--heapsize", ISSUE21_HEAP, "--speed", str(SPEED), "--on-fatal", "exit",
             "--service-boot", mpy_dir=code_dir)
    try:
        v.wait_state(("maintenance",), timeout_s=60)
        with open(os.path.join(v.fs, "manifest.txt")) as f:  # the factory's, at start
            assert f.read().split("\n")[1] == "build " + deploy.build_identity()
        monkeypatch.setattr(deploy, "Board", lambda port, mpremote, say: _CutBoard(port, 2))
        with pytest.raises(deploy.DeployError, match="cut after 2"):
            deploy.deploy(v.port, say=lambda s: None)  # the REPL is there: no PIN asked
        # the old manifest went first; one file is copied, not yet in place
        names = os.listdir(v.fs)
        assert "manifest.txt" not in names and "boot.py.new" in names, names
        _mpremote(v.port, "exec", "--no-follow", "import machine; machine.reset()")
        st = v.wait_state(("running",), timeout_s=60)
        assert st["reset_causes"] == [1, 5], st  # the buttons were let go: normal boot
        before = v.state()["true_angle_mdeg"]
        status, goto, ack, ret, version, after = console(
            v, "status", "goto 10", "ack", "return", "version", "status")
        assert status["state"] == "FAULT" and status["fault"] == "manifest", status
        assert any("no manifest.txt" in e for e in status["startup_errors"]), status
        assert not goto["ok"] and not ack["ok"], (goto, ack)
        assert ret["ok"], ret  # accepted; at the loading stop it has nowhere to go
        assert version["build"] == "unknown", version
        assert after["state"] == "FAULT"
        assert abs(v.state()["true_angle_mdeg"] - before) < 50  # the table did not move
    finally:
        rc, left = v.shut_down()
    assert rc == 0, v.output()
    assert not left
