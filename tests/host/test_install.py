"""`pip install .` (pyproject.toml, setup.py): the host tools install into a fresh virtual
environment with their console scripts, and the installed scripts work from outside the
repository - the firmware, the scenarios and the table's parameters travel inside the
package (host_tools/paths.py).

Offline and cheap: the tree is copied without .git (so this is also the tarball case:
the build identity is "unknown"), built without build isolation by the toolchain's
setuptools and wheel, and installed with --no-deps into a venv that sees the pinned
toolchain's site-packages through a .pth file instead of downloading the dependencies.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from host_tools import version
from host_tools.paths import ROOT

SCRIPTS = ("inversion-sim", "inversion-console", "inversion-deploy", "inversion-vdev")
_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "node_modules", "__pycache__",
                               ".hypothesis", ".pytest_cache", ".ruff_cache", "*.egg-info")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin directory, an empty working directory outside the repository)."""
    tmp = tmp_path_factory.mktemp("install")
    src, venv, work = tmp / "src", tmp / "venv", tmp / "work"
    shutil.copytree(ROOT, src, ignore=_SKIP, symlinks=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = os.path.join(str(venv), "bin", "python")
    purelib = subprocess.run([target, "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(purelib, "_toolchain.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", target, "install", "--no-deps",
                        "--no-build-isolation", "--no-index", "--disable-pip-version-check",
                        "-q", str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    work.mkdir()
    return os.path.join(str(venv), "bin"), str(work)


def _run(installed, *cmd):
    bin_dir, work = installed
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([os.path.join(bin_dir, cmd[0]), *cmd[1:]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_console_script_answers_help_by_its_own_name(installed, script):
    r = _run(installed, script, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: " + script), r.stdout[:200]


def test_the_installed_package_runs_from_its_own_data_and_says_unknown_without_git(installed):
    r = _run(installed, "python", "-c", "from host_tools import paths, version; "
             "print(paths.INSTALLED, paths.FIRMWARE, version.identity())")
    flag, firmware, identity = r.stdout.split()
    assert flag == "True" and "site-packages" in firmware and identity == "unknown", r.stdout
    assert os.path.isfile(os.path.join(firmware, "app.py"))
    r = _run(installed, "inversion-sim", "--version")
    assert r.stdout.strip() == "inversion-sim unknown", r.stdout + r.stderr
    r = _run(installed, "python", "-c", "import importlib.metadata as m; "
             "print(m.version('inversion-table-controller'))")
    assert r.stdout.strip() == "0.1.0+unknown", r.stdout + r.stderr


def test_the_installed_simulator_runs_a_session_and_a_shipped_scenario(installed):
    r = _run(installed, "inversion-sim", "--program", "custom", "--angle", "10", "--hold", "2",
             "--quiet", "--trace", "out/run.csv")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and "READY" in r.stdout
    assert os.path.getsize(os.path.join(installed[1], "out", "run.csv")) > 1000
    r = _run(installed, "inversion-sim", "--scenario", "scenarios/estop_bounce.toml",
             "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_installed_console_drives_the_shipped_firmware(installed):
    r = _run(installed, "inversion-console", "--sim", "--exec", "version")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "build" in r.stdout, r.stdout


def test_the_checkout_reports_git_describe():
    """From the repository itself the identity is git's, as deploy writes it."""
    r = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=ROOT,
                       capture_output=True, text=True)
    want = r.stdout.strip() if r.returncode == 0 else version.UNKNOWN
    assert version.git_describe(ROOT) == want
    assert version.pep440("0.1.0", "0e78a34-dirty") == "0.1.0+g0e78a34.dirty"
    assert version.pep440("0.1.0", "v1.2-3-gabc1234") == "0.1.0+v1.2.3.gabc1234"
    assert version.pep440("0.1.0", "unknown") == "0.1.0+unknown"
