"""Issue #21 acceptance: a deploy interrupted after each file in turn boots into a fault
with no motion but the return.

The real deploy (host_tools/deploy.py: the plan, the manifest, the commands it gives
mpremote, in their order) runs against a board root in a temp directory. The faked edges
are mpremote and the compiler: `fs cp` copies the file, the scripts deploy runs change
the root with their own os.remove/os.rename calls (run on CPython here, os limited to
those two calls) and the board's report (deploy._QUERY) comes from the real MicroPython
unix port run in that directory. The power fails after any number of changes; a copy
cut by it leaves half its bytes. Then the real firmware boots on the simulated board
with that root as its deployed code (board.code_root) and must latch the MANIFEST fault:
nothing moves by itself, nothing is accepted but the return (no ack), and the return
goes toward horizontal.
"""

import builtins
import os
import shutil
import subprocess

import faults
import manifest
import pytest
import store
from states import BOOT, C_ACK, C_GOTO, C_RETURN, FAULT, R_CAUSE, READY

from host_tools import deploy, paths
from host_tools.runner import SimRunner
from host_tools.simboard import SimBoard

MICROPYTHON = deploy.venv_tool("micropython")


class PowerCut(Exception):
    pass


class _CutOS:
    """The os calls deploy's scripts make, on the board root; counts the changes."""

    def __init__(self, board):
        self._board = board

    def remove(self, name):
        self._board.change()
        os.remove(self._board.path(name))

    def rename(self, a, b):
        self._board.change()
        os.rename(self._board.path(a), self._board.path(b))


class CutBoard(deploy.Board):
    """deploy.Board with mpremote and the board's REPL faked over a host directory.

    budget: changes that complete before the power fails (None: never). changes: how
    many were made; resets: machine.reset() calls."""

    def __init__(self, root, budget=None):
        super().__init__("fake-port", say=lambda s: None)
        self.root = root
        self.budget = budget
        self.changes = 0
        self.resets = 0

    def path(self, name):
        assert "/" not in name, name
        return os.path.join(self.root, name)

    def change(self):
        if self.budget is not None and self.changes >= self.budget:
            raise PowerCut()
        self.changes += 1

    def run(self, *commands, timeout=60):
        out = []
        try:
            for c in commands:
                out.append(self._one(c))
        except PowerCut:
            raise deploy.DeployError("mpremote failed on fake-port: the board lost "
                                     "power") from None
        return "".join(out)

    def _one(self, c):
        if c[:3] == ["fs", "cp", "-f"]:
            src, dst = c[3], c[4]
            assert dst.startswith(":")
            with open(src, "rb") as f:
                data = f.read()
            with open(self.path(dst[1:]), "wb") as f:
                try:
                    self.change()
                except PowerCut:
                    f.write(data[:len(data) // 2])  # cut in the middle of the copy
                    raise
                f.write(data)
            return ""
        if c[:2] == ["exec", "--no-follow"]:
            assert "machine.reset()" in c[2]
            self.resets += 1
            return ""
        assert c[0] == "exec" and len(c) == 2, c
        if c[1] == deploy._QUERY:  # read-only: the real unix port in the root
            r = subprocess.run([MICROPYTHON, "-c", c[1]], cwd=self.root, capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            return r.stdout
        return self._exec(c[1])

    def _exec(self, script):
        printed = []
        cut_os = _CutOS(self)

        def imp(name, *a, **k):
            assert name == "os", name  # the changing scripts use os only
            return cut_os

        env = {"__builtins__": dict(vars(builtins), __import__=imp,
                                    print=lambda *a: printed.append(" ".join(map(str, a))))}
        exec(script, env)
        return "\n".join(printed) + "\n"


def _local(tmp_path, tag, changed=(), dropped=()):
    """{board name: path}: what local_files gives, with made-up module bytes (the
    simulator runs the source tree; the check only hashes). changed: names whose
    bytes differ from the tag "a" build's; dropped: modules this build no longer has."""
    d = tmp_path / ("local-" + tag)
    d.mkdir()
    out = {}
    for name in ("app.mpy", "control.mpy", "states.mpy", "gone.mpy", "main.py", "boot.py"):
        if name in dropped:
            continue
        data = ("%s %s\n" % (name, tag if name in changed else "a")).encode() * 40
        (d / name).write_bytes(data)
        out[name] = str(d / name)
    out["table_params.json"] = paths.TABLE_PARAMS
    return out


_MPY_FORMAT = []  # mpy-cross --version, asked once


def _deploy(monkeypatch, board, local):
    if not _MPY_FORMAT:
        _MPY_FORMAT.append(deploy.mpy_cross_format())
    monkeypatch.setattr(deploy, "mpy_cross_format", lambda mpy_cross=None: _MPY_FORMAT[0])
    monkeypatch.setattr(deploy, "local_files", lambda arch, mpy_cross=None: local)
    monkeypatch.setattr(deploy, "Board", lambda port, mpremote, say: board)
    monkeypatch.setattr(deploy, "wait_firmware", lambda port: {"build": "(not asked)"})
    return deploy.deploy("fake-port", skip_maintenance=True, say=lambda s: None)


def _sim(root, angle_mdeg=None):
    """The firmware booted on the simulated table (None: at the loading stop), with the
    board root as its deployed code."""
    board = SimBoard(fs_root=root, angle_mdeg=angle_mdeg)
    board.code_root = root  # deployed files, as on the ESP32 (its root)
    r = SimRunner(board=board)
    r.run_until(lambda x: x.core.state != BOOT, 3000)
    return r


def _snapshot(root):
    return {n: open(os.path.join(root, n), "rb").read() for n in os.listdir(root)}


def _restore(root, snap):
    shutil.rmtree(root)
    os.mkdir(root)
    for n, data in snap.items():
        with open(os.path.join(root, n), "wb") as f:
            f.write(data)


def _assert_only_the_return(r):
    core = r.core
    assert core.state == FAULT and core.fault == faults.MANIFEST, (core.state, core.fault)
    assert any("firmware manifest" in e for e in r.app.startup_errors)
    start = r.board.emitted_count
    r.run_ms(300)
    assert core.command(C_GOTO, 20000) != 0
    assert core.command(C_ACK) == R_CAUSE
    r.run_ms(200)
    assert r.board.emitted_count == start  # nothing moved by itself or on a refusal


# --------------------------------------------------------------------------------


def test_a_complete_deploy_boots_without_a_fault_and_shows_its_build(tmp_path, monkeypatch):
    root = str(tmp_path / "board")
    os.mkdir(root)
    board = CutBoard(root)
    s = _deploy(monkeypatch, board, _local(tmp_path, "a"))
    assert s["manifest"] == "written" and board.resets == 1
    no_rom = store.DirFS(str(tmp_path / "no-rom"))
    assert manifest.check(store.DirFS(root), no_rom) == (s["build"], None)
    r = _sim(root)
    assert r.core.state == READY and r.app.startup_errors == []
    assert r.app.build == s["build"] == deploy.build_identity()
    # nothing changed: no file and no manifest touched, only the reset
    again = CutBoard(root)
    s = _deploy(monkeypatch, again, _local(tmp_path, "b"))
    assert s["copied"] == [] and s["manifest"] == "unchanged" and again.changes == 0


def test_a_deploy_cut_after_each_change_boots_into_the_fault(tmp_path, monkeypatch):
    root = str(tmp_path / "board")
    os.mkdir(root)
    _deploy(monkeypatch, CutBoard(root), _local(tmp_path, "a"))
    before = _snapshot(root)
    assert "gone.mpy" in before and manifest.NAME in before
    new = _local(tmp_path, "b", changed=("app.mpy", "states.mpy", "main.py"),
                 dropped=("gone.mpy",))
    full = CutBoard(root)
    _deploy(monkeypatch, full, new)
    # removing the manifest, 3 copies and the manifest's, 3 renames (each over the old
    # file, never removing it first), the dropped module, the manifest's rename
    assert full.changes == 1 + 4 + 3 + 1 + 1
    cuts = 0
    for budget in range(1, full.changes):  # 0: cut before any change, the old build runs
        _restore(root, before)
        board = CutBoard(root, budget)
        with pytest.raises(deploy.DeployError, match="lost power"):
            _deploy(monkeypatch, board, new)
        assert board.resets == 0
        r = _sim(root)
        _assert_only_the_return(r)
        cuts += 1
    assert cuts == full.changes - 1
    _restore(root, before)
    with pytest.raises(deploy.DeployError):
        _deploy(monkeypatch, CutBoard(root, 0), new)  # cut before the first change
    assert _sim(root).core.fault == faults.NONE  # the old build, whole
    _restore(root, before)
    _deploy(monkeypatch, CutBoard(root), new)  # completed: no fault
    assert _sim(root).core.fault == faults.NONE


def test_after_a_cut_deploy_at_depth_the_return_brings_the_person_up(tmp_path, monkeypatch):
    root = str(tmp_path / "board")
    os.mkdir(root)
    _deploy(monkeypatch, CutBoard(root), _local(tmp_path, "a"))
    with pytest.raises(deploy.DeployError):
        _deploy(monkeypatch, CutBoard(root, 3), _local(tmp_path, "b", changed=("app.mpy",)))
    r = _sim(root, 12000)  # the power came back with the person head-down
    _assert_only_the_return(r)
    lowest = r.board.true_angle_mdeg
    assert r.core.command(C_RETURN) == 0
    deepest = [r.board.true_angle_mdeg]
    r.tick_hooks.append(lambda x: deepest.append(x.board.true_angle_mdeg))
    r.run_until(lambda x: abs(x.board.true_angle_mdeg) < 1000 and not x.app.outputs.enable,
                60000)
    assert abs(r.board.true_angle_mdeg) < 1000
    assert max(deepest) <= lowest + 100  # never further head-down
    assert r.core.state == FAULT and r.core.command(C_ACK) == R_CAUSE
