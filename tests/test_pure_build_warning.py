"""What ``import ldfast`` says about a pure build, on a copy of the package (no venv, no build):
the pure-build marker setup.py writes without a C compiler gives exactly one
ExtensionsUnavailableWarning pointing at the importing line; LDFAST_NO_EXTENSIONS=1 silences it;
a marker beside built twins (left over from an earlier pure build) is ignored."""
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.venvs import REPORT_SCRIPT, ROOT, clean_env

REASON = "the C compiler 'cc' cannot build an extension module: test"


@pytest.fixture
def pure_copy(tmp_path):
    """A copy of the ldfast sources without any built module, with setup.py's marker."""
    shutil.copytree(os.path.join(ROOT, "ldfast"), str(tmp_path / "ldfast"),
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "*.html", "__pycache__"))
    (tmp_path / "ldfast" / "_ext" / "_pure_build.txt").write_text(REASON + "\n")
    return tmp_path


def _report(where, **env):
    script = os.path.join(str(where), "report_ldfast.py")
    with open(script, "w") as f:
        f.write(REPORT_SCRIPT)
    out = subprocess.run([sys.executable, script], cwd=str(where), env=clean_env(**env),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), script


def test_a_pure_build_warns_once_at_import(pure_copy):
    seen, script = _report(pure_copy)
    assert seen["package"].startswith(str(pure_copy))
    assert seen["enabled"] is False and seen["value"] is True
    assert seen["reason"] == "installed without a working C compiler: " + REASON
    assert [(w[0], w[2]) for w in seen["warnings"]] == [("ExtensionsUnavailableWarning", script)]
    assert REASON in seen["warnings"][0][1]


def test_ldfast_no_extensions_silences_the_warning(pure_copy):
    seen, _ = _report(pure_copy, LDFAST_NO_EXTENSIONS="1")
    assert seen["warnings"] == [] and seen["reason"] == "LDFAST_NO_EXTENSIONS=1"


@pytest.mark.c_extension
def test_a_stale_marker_beside_built_twins_is_ignored(pure_copy):
    built = glob.glob(os.path.join(ROOT, "ldfast", "_ext", "*_c.*.so"))
    assert built, "no compiled twins built in the source tree"
    for path in built:
        shutil.copy(path, str(pure_copy / "ldfast" / "_ext"))
    seen, _ = _report(pure_copy)
    assert seen["warnings"] == [] and seen["enabled"] is True and seen["reason"] is None
