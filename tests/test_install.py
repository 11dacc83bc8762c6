"""``pip install`` of the sdist in a fresh venv, as a user would: without a C compiler (pure twins,
said once), with LDFAST_NO_EXTENSIONS=1 (pure, silent), and with a compiler that fails (loud).

Slow (each case builds in pip's isolated build environment, which fetches setuptools and Cython),
so marked ``install``: run in the compiled pass of ``make test``, deselected from the pure pass.
The compiled install from the sdist and the wheel is checked by ``make dist``
(``tests/support/check_dist.py``).
"""
import os
import stat
import subprocess
import sys

import pytest

from tests.support.venvs import ROOT, Venv, clean_env

pytestmark = pytest.mark.install

BANNER = "ldfast: no working C compiler"
WARNING = "ExtensionsUnavailableWarning"

FAILING_CC = """#!/bin/sh
# A C compiler that works (it is gcc) except on ldfast's Cython output: a build that fails for
# another reason than a missing compiler.
for arg in "$@"; do
    case "$arg" in *_c.c) echo "failing-cc: will not compile $arg" >&2; exit 1;; esac
done
exec gcc "$@"
"""


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """An sdist of the working tree (what `python -m build --sdist` makes)."""
    out = tmp_path_factory.mktemp("sdist")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out), ROOT],
                   check=True, cwd=ROOT, env=clean_env(), stdout=subprocess.DEVNULL, timeout=600)
    (archive,) = out.iterdir()
    return str(archive)


@pytest.fixture(scope="module")
def venv(sdist):
    """One fresh venv for the module, its dependencies installed once (a pure install, removed);
    each test installs ldfast into it and uninstalls it at the end."""
    v = Venv()
    first = v.install(sdist, LDFAST_NO_EXTENSIONS="1")
    assert first.returncode == 0, first.stdout
    v.pip("uninstall", "-y", "ldfast")
    yield v
    v.remove()


@pytest.fixture
def fresh(venv):
    """The module's venv, ldfast uninstalled again after the test."""
    yield venv
    out = venv.pip("uninstall", "-y", "ldfast")
    assert out.returncode == 0, out.stdout


@pytest.mark.parametrize("how", ["CC=/nonexistent-cc", "no compiler on PATH"])
def test_without_a_compiler_installs_the_pure_twins_and_says_so_once(fresh, sdist, how):
    if how == "CC=/nonexistent-cc":
        env = {"CC": "/nonexistent-cc"}
    else:  # setuptools then runs the configured `gcc`, which the venv's bin directory lacks
        env = {"CC": None, "PATH": fresh.bin}
    out = fresh.install(sdist, **env)
    assert out.returncode == 0, out.stdout
    assert out.stdout.count(BANNER) == 1, out.stdout  # the build's stderr, shown by `pip -v`
    assert os.path.exists(fresh.site_file("_ext", "_pure_build.txt"))
    assert not [n for n in os.listdir(fresh.site_file("_ext")) if n.endswith(".so")]

    seen = fresh.report()
    assert seen["value"] is True  # flags evaluate
    assert seen["enabled"] is False
    assert seen["reason"].startswith("installed without a working C compiler"), seen["reason"]
    assert [w[0] for w in seen["warnings"]] == [WARNING], seen["warnings"]
    assert seen["warnings"][0][2] == seen["script"]  # points at the line that imported ldfast
    assert seen["package"].startswith(fresh.dir)  # the installed package, not the source tree

    forced = fresh.report(LDFAST_NO_EXTENSIONS="1")  # the user chose pure: no warning
    assert forced["warnings"] == [] and forced["enabled"] is False
    assert forced["reason"] == "LDFAST_NO_EXTENSIONS=1"


def test_ldfast_no_extensions_installs_pure_twins_silently(fresh, sdist):
    out = fresh.install(sdist, LDFAST_NO_EXTENSIONS="1")
    assert out.returncode == 0, out.stdout
    assert BANNER not in out.stdout
    assert not os.path.exists(fresh.site_file("_ext", "_pure_build.txt"))
    seen = fresh.report()
    assert seen["warnings"] == [] and seen["enabled"] is False and seen["value"] is True
    assert seen["reason"].startswith("compiled twins not built"), seen["reason"]


def test_a_compiler_that_fails_fails_the_install(fresh, sdist):
    cc = os.path.join(fresh.dir, "failing-cc")
    with open(cc, "w") as f:
        f.write(FAILING_CC)
    os.chmod(cc, os.stat(cc).st_mode | stat.S_IXUSR)
    out = fresh.install(sdist, CC=cc)
    assert out.returncode != 0, out.stdout
    assert "failing-cc: will not compile" in out.stdout
    assert BANNER not in out.stdout
    assert fresh.pip("show", "ldfast").returncode != 0  # nothing installed, pure or otherwise
