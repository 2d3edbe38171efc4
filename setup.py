"""Builds libfaceau.so with CMake (the same CMakeLists.txt as the CLI) and puts it inside the
faceau package, so `pip install .` needs nothing but a C compiler, CMake and the libraries
scripts/install-deps.sh installs. The models are not bundled: the library looks for them as
the CLI does, including <venv>/share/faceau/models (the build's install prefix is sys.prefix)."""
import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        build = os.path.join(HERE, "build-python", "cmake")
        jobs = os.environ.get("FACEAU_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "-S", HERE, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                               f"-DCMAKE_INSTALL_PREFIX={sys.prefix}"])
        subprocess.check_call(["cmake", "--build", build, "--target", "faceau_shared", "-j", jobs])
        dest = os.path.join(self.build_lib, "faceau", "libfaceau.so")
        shutil.copyfile(os.path.realpath(os.path.join(build, "libfaceau.so")), dest)
        os.chmod(dest, 0o755)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # a platform wheel: it carries a shared library
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution,
      options={"build": {"build_base": "build-python"}})
