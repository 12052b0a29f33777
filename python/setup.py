"""setup.py -- the weightbridge Python package: the pure-Python layer (weightbridge/*.py) and the
extension weightbridge._native (src/*.c), which links the static libweightbridge.a of the C build.

No network and no build isolation: `pip install ./python` or `make python` (in place). The library
is built first with `make -C <repo> build/libweightbridge.a` when it is missing. Environment:
WBR_BUILD (the build directory holding libweightbridge.a; default <repo>/build) and WBR_SAN_FLAGS
(sanitizer flags added to compiling and linking, for a build against build/asan).
"""
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("WBR_BUILD") or os.path.join(TOP, "build"))
LIB = os.path.join(BUILD, "libweightbridge.a")
SAN = shlex.split(os.environ.get("WBR_SAN_FLAGS", ""))


def version():
    with open(os.path.join(TOP, "include", "weightbridge.h")) as f:
        text = f.read()
    parts = [re.search(r"#define WBR_VERSION_%s (\d+)" % k, text).group(1) for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def library():
    """The static library, built with the project's Makefile when it is not there yet."""
    if not os.path.exists(LIB):
        rel = os.path.relpath(BUILD, TOP)
        subprocess.check_call(["make", "-C", TOP, "BUILD=" + rel, rel + "/libweightbridge.a"])
    return LIB


def link_libs():
    """What libweightbridge.a needs (PCRE2, cJSON, zlib, libm), as tools/ldlibs.sh says."""
    try:
        out = subprocess.check_output(["sh", os.path.join(TOP, "tools", "ldlibs.sh")], cwd=TOP, text=True)
        return shlex.split(out)
    except (OSError, subprocess.CalledProcessError):
        return ["-lpcre2-8", "-lcjson", "-lz", "-lm"]


SOURCES = sorted(os.path.join("src", f) for f in os.listdir(os.path.join(HERE, "src")) if f.endswith(".c"))

native = Extension(
    "weightbridge._native",
    sources=SOURCES,
    include_dirs=[os.path.join(TOP, "include")],
    depends=[os.path.join("src", "native.h"), os.path.join(TOP, "include", "weightbridge.h"), LIB],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wmissing-prototypes", "-Werror"] + SAN,
    extra_objects=[library()],
    extra_link_args=link_libs() + SAN,
)

os.chdir(HERE)  # relative source paths, whoever runs setup.py from where
os.makedirs("weightbridge", exist_ok=True)  # where build_ext --inplace puts _native (before pylib's .py land)
setup(
    name="weightbridge",
    version=version(),
    description="Map deep-learning weights between implementations (the weightbridge C library for Python)",
    packages=["weightbridge"] if os.path.exists(os.path.join(HERE, "weightbridge", "__init__.py")) else [],
    ext_modules=[native],
    python_requires=">=3.8",
    install_requires=[],  # NumPy is used when present (Debian's python3-numpy); PyTorch is optional
    zip_safe=False,
)
