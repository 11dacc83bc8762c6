"""Fresh virtual environments outside the source tree: install ldfast as a user would, run code there.

Shared by ``tests/test_install.py`` and ``tests/support/check_dist.py`` (``make dist``). Commands
run with the environment of the caller minus what would leak the source tree or a twin choice
into them (``PYTHONPATH``, ``LDFAST_NO_EXTENSIONS``, ``VIRTUAL_ENV``), plus the overrides given.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 1200  # seconds for one pip command: a compiled build on a loaded 2-core machine takes minutes
_SCRUBBED = ("PYTHONPATH", "LDFAST_NO_EXTENSIONS", "VIRTUAL_ENV", "PYTHONHOME")

REPORT_SCRIPT = textwrap.dedent("""
    import importlib.util, json, sys, warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import ldfast
        from ldfast.integrations.test_data import TestData
    td = TestData.data_source()
    td.update(td.flag("f").variation_for_all(True))
    client = ldfast.LDClient(ldfast.Config("sdk-key", update_processor_class=td, send_events=False))
    value = client.variation("f", ldfast.Context.create("user-1"), False)
    client.close()
    json.dump({
        "enabled": ldfast.extensions_enabled(),
        "reason": ldfast.extensions_unavailable_reason(),
        "warnings": [[w.category.__name__, str(w.message), w.filename] for w in caught],
        "package": ldfast.__file__,
        "evaluator_c": importlib.util.find_spec("ldfast._ext.evaluator_c").origin,
        "value": value,
    }, sys.stdout)
""")


def clean_env(**overrides):
    """os.environ without the variables in _SCRUBBED, with ``overrides`` (a None value removes)."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class Venv:
    """A virtual environment in a new temporary directory (outside the source tree)."""

    def __init__(self, prefix="ldfast-venv-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.bin = os.path.join(self.dir, "venv", "bin")
        self.python = os.path.join(self.bin, "python")
        subprocess.run([sys.executable, "-m", "venv", os.path.join(self.dir, "venv")], check=True,
                       timeout=TIMEOUT, cwd=self.dir)

    def pip(self, *args, **env):
        """``pip <args>`` in this venv (cwd: the venv's directory); the CompletedProcess, output
        (stdout and stderr together) in ``.stdout``."""
        return subprocess.run([self.python, "-m", "pip", *args], cwd=self.dir, env=clean_env(**env),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=TIMEOUT)

    def install(self, archive, *args, **env):
        """``pip install -v`` of a copy of ``archive`` at a path of its own: pip caches a wheel it
        built from an sdist by the sdist's URL, and each install here must build afresh."""
        copy_dir = tempfile.mkdtemp(prefix="sdist-", dir=self.dir)
        copy = shutil.copy(archive, copy_dir)
        return self.pip("install", "-v", *args, copy, **env)

    def report(self, **env):
        """What ``import ldfast`` says in this venv (REPORT_SCRIPT's JSON), run from a script file
        outside the source tree so the installed package is the one imported."""
        script = os.path.join(self.dir, "report_ldfast.py")
        with open(script, "w") as f:
            f.write(REPORT_SCRIPT)
        out = subprocess.run([self.python, script], cwd=self.dir, env=clean_env(**env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=TIMEOUT)
        if out.returncode != 0:
            raise AssertionError("report script failed (%d):\n%s" % (out.returncode, out.stderr))
        data = json.loads(out.stdout)
        data["script"] = script
        return data

    def site_file(self, *parts):
        """The path of an installed file of the ldfast package (may not exist)."""
        lib = os.path.join(self.dir, "venv", "lib")
        (pyver,) = os.listdir(lib)
        return os.path.join(lib, pyver, "site-packages", "ldfast", *parts)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
