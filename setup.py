"""Build ldfast: compiles the twins in ldfast/_ext, or installs the pure twins where that cannot work.

Compiled twins are ``X_c.pyx`` (hand-written) or ``X_c.py`` (a link to ``X_py.py``, compiled with
the types declared in ``X_c.pxd``). Three outcomes:

- ``LDFAST_NO_EXTENSIONS=1`` (or not CPython): a pure install, nothing compiled, nothing said.
- No working C compiler (the compiler the build would use cannot compile and link a trivial C file
  that includes ``Python.h``): a pure install; a banner on stderr says so and a marker file
  (``ldfast/_ext/_pure_build.txt``, its text the reason) makes ``import ldfast`` warn once.
- A working compiler: the twins are cythonized and compiled; any failure then fails the build
  loudly (never a silent pure install).
"""
import glob
import importlib.util
import os
import shutil
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("_ldfast_env", os.path.join(_here, "ldfast", "_ext", "_env.py"))
_env = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_env)

# Needs the compiler, the linker and the Python headers, and no Python symbol at link time (linking
# against libpython differs by platform; build_ext knows how, a probe should not have to).
_PROBE = '#include <Python.h>\nint ldfast_probe(void) { return PY_MAJOR_VERSION; }\n'


def probe_compiler(compiler):
    """None when ``compiler`` (a configured distutils CCompiler) compiles and links a C file that
    includes Python.h; else the reason it cannot, in one line."""
    tmp = tempfile.mkdtemp(prefix="ldfast-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(_PROBE)
        try:
            objects = compiler.compile([src], output_dir=tmp)
            compiler.link_shared_object(objects, os.path.join(tmp, "probe.so"))
        except Exception as exc:  # CompileError, LinkError, DistutilsExecError, OSError
            detail = " ".join(str(exc).split()) or type(exc).__name__
            return "the C compiler %r cannot build an extension module: %s" % (_compiler_name(compiler), detail)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compiler_name(compiler):
    cmd = getattr(compiler, "compiler_so", None) or getattr(compiler, "compiler_type", "?")
    return cmd[0] if isinstance(cmd, list) and cmd else str(cmd)


def _banner(reason):
    line = "*" * 78
    return "\n".join((
        line,
        "ldfast: no working C compiler, so the pure-Python twins are installed (same results, slower).",
        "  why: %s" % reason,
        "  `import ldfast` warns once (ldfast.ExtensionsUnavailableWarning). For the compiled twins,",
        "  install a C compiler and the Python headers, then reinstall without pip's cached wheel:",
        "  pip install --force-reinstall --no-cache-dir ldfast.  LDFAST_NO_EXTENSIONS=1 installs",
        "  the pure twins without this message and without the warning.",
        line,
    ))


class BuildTwins(build_ext):
    """build_ext that first checks the compiler: none working -> pure install with a banner and
    the marker; working -> cythonize and compile, failing loudly."""

    def build_extensions(self):
        marker = os.path.join(self._package_dir(), _env.PURE_BUILD_MARKER)
        reason = probe_compiler(self.compiler)
        if reason is not None:
            print(_banner(reason), file=sys.stderr, flush=True)
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w") as f:
                f.write(reason + "\n")
            self.extensions = []
            return
        if os.path.exists(marker):
            os.remove(marker)
        from Cython.Build import cythonize

        translated = cythonize(
            self.extensions,
            language_level=3,
            compiler_directives={"annotation_typing": False, "embedsignature": True},
        )
        sources = {ext.name: ext.sources for ext in translated}
        for ext in self.extensions:  # keep setuptools' own Extension objects, now with C sources
            ext.sources = sources[ext.name]
        super().build_extensions()

    def _package_dir(self):
        if self.inplace:
            return self.get_finalized_command("build_py").get_package_dir("ldfast._ext")
        return os.path.join(self.build_lib, "ldfast", "_ext")


ext_modules = []
if not _env.no_extensions():
    sources = sorted(glob.glob(os.path.join("ldfast", "_ext", "*_c.pyx")) + glob.glob(os.path.join("ldfast", "_ext", "*_c.py")))
    if not sources:
        raise SystemExit("ldfast: no compiled twins found in ldfast/_ext")
    ext_modules = [
        Extension(os.path.splitext(src)[0].replace(os.sep, "."), [src], extra_compile_args=["-O3"])
        for src in sources
    ]

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildTwins})
