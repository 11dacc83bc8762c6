"""Build ldfast: compiles the twins in ldfast/_ext unless LDFAST_NO_EXTENSIONS is set.

Compiled twins are ``X_c.pyx`` (hand-written) or ``X_c.py`` (a link to ``X_py.py``, compiled with
the types declared in ``X_c.pxd``). A build that cannot compile fails loudly; only
LDFAST_NO_EXTENSIONS=1 makes a pure install.
"""
import glob
import importlib.util
import os

from setuptools import setup

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_ldfast_env", os.path.join(_here, "ldfast", "_ext", "_env.py"))
_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_env)

ext_modules = []
if not _env.no_extensions():
    from Cython.Build import cythonize
    from setuptools import Extension

    sources = sorted(glob.glob(os.path.join("ldfast", "_ext", "*_c.pyx")) + glob.glob(os.path.join("ldfast", "_ext", "*_c.py")))
    if not sources:
        raise SystemExit("ldfast: no compiled twins found in ldfast/_ext")
    extensions = [
        Extension(os.path.splitext(src)[0].replace(os.sep, "."), [src], extra_compile_args=["-O3"])
        for src in sources
    ]
    ext_modules = cythonize(
        extensions,
        language_level=3,
        compiler_directives={"annotation_typing": False, "embedsignature": True},
    )

setup(ext_modules=ext_modules)
