"""Packaging hook: the version and build identity from `git describe` (pyproject.toml
holds everything else).

`pip install .` runs this in the source tree. The package's version is
0.1.0+<describe> (a PEP 440 local label), and host_tools/_build.py is written into the
built package with the describe string itself, which host_tools/version.py reports
once installed (there is no git checkout to ask then). From a tarball: "unknown".
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from host_tools import version  # noqa: E402

BASE_VERSION = "0.1.0"
IDENTITY = version.git_describe(os.path.dirname(os.path.abspath(__file__)))


class BuildPyWithIdentity(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "host_tools", version.BUILD_FILE)
        with open(target, "w") as f:
            f.write(version.build_file_text(IDENTITY))


setup(version=version.pep440(BASE_VERSION, IDENTITY), cmdclass={"build_py": BuildPyWithIdentity})
