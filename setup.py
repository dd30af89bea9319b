"""The one compiled part of vectree: the scan kernels and center ranking (see vectree/_native).

Everything else is configured in pyproject.toml. Environment switches for the build:

- ``VECTREE_NO_NATIVE=1``: no ``-march=native``, for a wheel that runs on any x86-64 (or other)
  machine; the kernel still picks its AVX2/F16C loops at run time when the CPU has them.
- ``VECTREE_SANITIZE=1``: AddressSanitizer (run Python with ``LD_PRELOAD`` of libasan; see
  ``tests/collection/test_scan_under_address_sanitizer.py``).
"""

import os

from setuptools import Extension, setup

# -fassociative-math (with the flags it requires) lets gcc vectorise the dot products; unlike
# -ffast-math it does not flush denormals for the whole process
FLAGS = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fno-signed-zeros", "-fassociative-math"]
LINK: list[str] = []
if os.environ.get("VECTREE_NO_NATIVE") != "1":
    FLAGS.append("-march=native")
if os.environ.get("VECTREE_SANITIZE") == "1":
    FLAGS += ["-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"]
    LINK += ["-fsanitize=address"]

HEADERS = ("_kernels.h", "_resident.h", "_rabitq.h", "_ahead.h", "_centers.h")

setup(
    ext_modules=[
        Extension(
            "vectree._native._scan",
            ["vectree/_native/_scan.c"],
            depends=[f"vectree/_native/{h}" for h in HEADERS],
            extra_compile_args=FLAGS,
            extra_link_args=LINK,
        )
    ]
)
