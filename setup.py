"""Build hook: the wheel carries the shipped data inside the package.

profiles/, grids/ and examples/ stay at the repository's top level (reviewed as data, read in
place by a checkout or an editable install); a built package gets a copy of each under
planner/data/, where planner.paths finds it through importlib.resources. Everything else is
declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("profiles", "grids", "examples")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the folders where they are
        here = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "planner" / "data"
        for name in DATA:
            dest = target / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(here / name, dest,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildPyWithData})
