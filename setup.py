"""Builds the engine's one compiled module, `cnnlab/engine/_direct.c`; the rest
of the package is described in pyproject.toml.

The extension is optional: where no C compiler is found the install still
succeeds, `cnnlab.engine.direct.available()` is False, and every convolution
runs in the NumPy engine (`cnnlab.engine.conv`) with the same results.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("cnnlab.engine._direct", ["cnnlab/engine/_direct.c"],
                             depends=["cnnlab/engine/_direct_kernels.h"],
                             extra_compile_args=["-O3"], optional=True)])
