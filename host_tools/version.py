"""The build identity: `git describe --always --dirty --tags` of the source tree.

One definition for everything that reports a version: the manifest deploy and the vdev
write to a board (the console's `version` shows it as `build`), the simulator's
summary, bench.json, the console scripts' --version and the installed package. From a
git checkout it asks git each time; an installed package carries the identity it was
built from (host_tools/_build.py, written by setup.py); without either (a tarball):
"unknown".
"""

import os
import re
import subprocess

UNKNOWN = "unknown"
BUILD_FILE = "_build.py"
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_describe(root):
    """`git describe --always --dirty --tags` in root, or "unknown" (no git, not a
    checkout, or git failed)."""
    if not os.path.exists(os.path.join(root, ".git")):
        # not a checkout: never describe whatever repository encloses an installed copy
        return UNKNOWN
    try:
        r = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    out = r.stdout.strip()
    return out if r.returncode == 0 and out and "\n" not in out else UNKNOWN


def build_file_text(identity):
    """host_tools/_build.py of an installed package."""
    return '"""Written by setup.py at build time."""\n\nIDENTITY = %r\n' % identity


def pep440(base, identity):
    """The package version: base plus the identity as a local label
    ("0.1.0+g0e78a34.dirty"); a local label holds only letters, digits and dots."""
    label = re.sub(r"[^A-Za-z0-9]+", ".", identity).strip(".") or UNKNOWN
    if re.match(r"[0-9a-f]{7,}(-dirty)?$", identity):
        label = "g" + label  # a bare hash (no tag yet): say it is one, as describe's -g does
    return "%s+%s" % (base, label)


_identity = []  # asked once per process: every tool's parser shows it in --version


def identity():
    """This build's identity: git's from a checkout, else the installed one, else
    "unknown"."""
    if not _identity:
        _identity.append(_find_identity())
    return _identity[0]


def _find_identity():
    if os.path.exists(os.path.join(_CHECKOUT, ".git")):
        return git_describe(_CHECKOUT)
    try:
        from host_tools import _build  # type: ignore[attr-defined]
    except ImportError:
        return UNKNOWN
    return getattr(_build, "IDENTITY", UNKNOWN)
