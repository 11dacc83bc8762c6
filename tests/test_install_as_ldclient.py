"""ldfast.install_as_ldclient(): code written for the official SDK imports ldfast instead.

Each case runs in a fresh interpreter (the official package is installed too, and the alias must
win over it once installed), with the same LDFAST_NO_EXTENSIONS as this run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("ldclient")


def run(code: str, tmp_path=None) -> str:
    env = dict(os.environ)
    if tmp_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ldclient_and_every_public_module_are_ldfasts():
    out = run("""
        import importlib, pkgutil, sys
        import ldclient as official
        paths = [m.name for m in pkgutil.walk_packages(official.__path__, "ldclient.", onerror=lambda n: None)]
        import ldfast
        ldfast.install_as_ldclient()
        import ldclient
        assert ldclient is ldfast
        omitted = ("async_feature_store", "async_migrator", "datasystem", "test_datav2", "impl", "testing")
        checked = 0
        for name in paths:
            if any(part.startswith(omitted) for part in name.split(".")[1:]):
                continue
            module = importlib.import_module(name)
            assert module is importlib.import_module("ldfast" + name[len("ldclient"):]), name
            checked += 1
        from ldclient.config import Config
        from ldclient.integrations.test_data import TestData
        from ldclient import Context, LDClient
        assert Config is ldfast.Config and LDClient is ldfast.LDClient
        from ldclient.async_client import AsyncLDClient
        from ldclient.async_config import AsyncConfig
        import ldfast.async_client, ldfast.async_config
        assert AsyncLDClient is ldfast.async_client.AsyncLDClient and AsyncConfig is ldfast.async_config.AsyncConfig
        assert ldclient.AsyncLDClient is AsyncLDClient
        print(checked)
    """)
    assert int(out) >= 15


def test_the_official_modules_imported_before_are_replaced():
    out = run("""
        import ldclient, ldclient.config
        official_config = ldclient.config.Config
        import ldfast
        ldfast.install_as_ldclient()
        ldfast.install_as_ldclient()  # idempotent
        import ldclient.config
        assert ldclient.config.Config is ldfast.Config is not official_config
        import ldclient
        print(ldclient.__name__)
    """)
    assert out == "ldfast"


@pytest.mark.parametrize("name, why", [
    ("ldclient.impl.util", "internals"),
    ("ldclient.impl.integrations.redis.redis_feature_store", "internals"),
    ("ldclient.testing", "test helpers"),
    ("ldclient.async_feature_store", "asyncio"),
    ("ldclient.datasystem", "FDv2"),
    ("ldclient.integrations.test_datav2", "FDv2"),
])
def test_what_ldfast_does_not_provide_fails_clearly(name, why):
    out = run("""
        import ldfast
        ldfast.install_as_ldclient()
        try:
            import %s
        except ImportError as e:
            print(e)
        else:
            print("imported")
    """ % name)
    assert "not provided by ldfast" in out and why in out


def test_a_package_written_for_the_official_sdk_runs_on_ldfast(tmp_path):
    (tmp_path / "thirdparty.py").write_text(textwrap.dedent("""
        import ldclient
        from ldclient import Context
        from ldclient.config import Config
        from ldclient.hook import Hook, Metadata
        from ldclient.integrations.test_data import TestData

        class Recorder(Hook):
            def __init__(self):
                self.seen = []

            @property
            def metadata(self):
                return Metadata(name="recorder")

            def before_evaluation(self, series_context, data):
                return data

            def after_evaluation(self, series_context, data, detail):
                self.seen.append((series_context.key, detail.value))
                return data

        def run():
            td = TestData.data_source()
            td.update(td.flag("f").variation_for_all(True))
            hook = Recorder()
            client = ldclient.LDClient(Config("sdk-key", update_processor_class=td, send_events=False,
                                              hooks=[hook]))
            value = client.variation("f", Context.create("user"), False)
            client.close()
            return type(client).__module__, value, hook.seen
    """))
    out = run("""
        import ldfast
        ldfast.install_as_ldclient()
        import thirdparty
        print(thirdparty.run())
    """, tmp_path)
    assert out == "('ldfast.client', True, [('f', True)])"


def test_uninstall_gives_the_official_sdk_back():
    out = run("""
        import ldfast
        from ldfast._alias import uninstall_as_ldclient
        ldfast.install_as_ldclient()
        import ldclient
        assert ldclient is ldfast
        uninstall_as_ldclient()
        import ldclient
        print(ldclient.__name__, ldclient.LDClient.__module__)
    """)
    assert out == "ldclient ldclient.client"
