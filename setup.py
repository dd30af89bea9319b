"""The one compiled part of vectree: the single-query scan and center ranking (see vectree/_native).

Everything else is configured in pyproject.toml.
"""

from setuptools import Extension, setup

# -fassociative-math (with the flags it requires) lets gcc vectorise the dot products; unlike
# -ffast-math it does not flush denormals for the whole process
FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fno-signed-zeros", "-fassociative-math"]

setup(ext_modules=[Extension("vectree._native._scan", ["vectree/_native/_scan.c"], extra_compile_args=FLAGS)])
