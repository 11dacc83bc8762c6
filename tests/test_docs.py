"""The documentation (docs/) builds without a warning, and every Python example in it runs as written.

The docs are built once per session (Sphinx's ``dummy`` builder: everything is read and resolved,
nothing is written but the doctrees), with the pure twins as ``make docs`` does. The examples are
the Python literal blocks of every page: the README sections included as guides (already run one
by one by test_readme.py, so only checked to be those), the docstrings autodoc pulls in, and the
pages' own text.
"""
import ast
import glob
import os
import pickle
import subprocess
import sys

import pytest

from tests.test_readme import BLOCKS as README_BLOCKS

pytest.importorskip("sphinx", reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip("myst_parser", reason="the docs extra is not installed (pip install -e '.[docs]')")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON_LANGUAGES = {"python", "python3", "py", "default"}  # "default": a docstring's "::" block


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    env = dict(os.environ, LDFAST_NO_EXTENSIONS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "dummy",
         "-d", str(out / "doctrees"), "docs", str(out / "dummy")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc, out / "doctrees"


def _examples(doctrees):
    from docutils import nodes

    found = []
    for path in sorted(glob.glob(os.path.join(doctrees, "**", "*.doctree"), recursive=True)):
        if os.path.basename(path) == "environment.pickle":
            continue
        with open(path, "rb") as f:
            doctree = pickle.load(f)
        page = os.path.relpath(path, doctrees)[:-len(".doctree")]
        for block in doctree.findall(nodes.literal_block):
            if block.get("language", "default") in PYTHON_LANGUAGES:
                found.append((page, block.astext()))
    return found


@pytest.fixture(scope="session")
def examples(built_docs):
    proc, doctrees = built_docs
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _examples(doctrees)


def test_docs_build_without_warnings(built_docs):
    proc, _ = built_docs
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]


def test_docs_cover_the_public_api(built_docs):
    """The API reference documents the clients, config, context, integrations, interfaces, hooks,
    plugins and migrations (by the objects the Python domain recorded)."""
    proc, doctrees = built_docs
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(doctrees, "environment.pickle"), "rb") as f:
        env = pickle.load(f)
    objects = set(env.domaindata["py"]["objects"])
    for name in ("ldfast.client.LDClient", "ldfast.client.LDClient.variation", "ldfast.twisted.TwistedLDClient",
                 "ldfast.twisted.TwistedConfig", "ldfast.config.Config", "ldfast.context.Context",
                 "ldfast.integrations.Redis", "ldfast.integrations.Files",
                 "ldfast.integrations.test_data.TestData", "ldfast.interfaces.FeatureStore",
                 "ldfast.hook.Hook", "ldfast.plugin.Plugin", "ldfast.migrations.MigratorBuilder",
                 "ldfast.feature_store.InMemoryFeatureStore", "ldfast.big_segments.BigSegmentStore",
                 "ldfast.evaluation.EvaluationDetail", "ldfast.set_config", "ldfast.get"):
        assert name in objects, name


def test_docs_include_the_readme_guides(examples):
    """The guides are README sections: their examples are the README's own (run by test_readme.py)."""
    readme = {code.strip() for code in README_BLOCKS}
    from_readme = [code for page, code in examples if page.startswith("guides") and code.strip() in readme]
    assert len(from_readme) >= 10
    others = [page for page, code in examples if page.startswith("guides") and code.strip() not in readme]
    assert not others, others


def _own_examples():
    """The examples not taken from the README, collected without Sphinx (ids must be known before
    the build): every "::" literal block of the docstrings of the documented modules, and the pages'
    own code blocks. test_own_examples_are_all_collected checks this against the built doctrees."""
    import importlib

    from docutils.core import publish_doctree
    from docutils import nodes

    modules = set()
    for path in glob.glob(os.path.join(ROOT, "docs", "api", "*.rst")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith(".. automodule:: "):
                    modules.add(line.split("::", 1)[1].strip())
    found = []
    for name in sorted(modules):
        module = importlib.import_module(name)
        for obj in _documented(module):
            doc = getattr(obj, "__doc__", None)
            if not doc or "::" not in doc:
                continue
            import inspect

            tree = publish_doctree(inspect.cleandoc(doc), settings_overrides={"report_level": 5})
            for block in tree.findall(nodes.literal_block):
                found.append(block.astext())
    return found


def _documented(module):
    import inspect

    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    yield module
    for name in names:
        obj = getattr(module, name, None)
        if obj is None:
            continue
        yield obj
        if inspect.isclass(obj):
            for attr in vars(obj).values():
                yield getattr(attr, "__func__", attr)


OWN_EXAMPLES = sorted(set(_own_examples()))


def test_own_examples_are_all_collected(examples):
    readme = {code.strip() for code in README_BLOCKS}
    built = {code for page, code in examples if code.strip() not in readme}
    assert built == set(OWN_EXAMPLES)


def test_docs_have_own_examples():
    assert len(OWN_EXAMPLES) >= 3


@pytest.mark.parametrize("code", OWN_EXAMPLES, ids=[str(i) for i in range(len(OWN_EXAMPLES))])
def test_docs_example_runs(code, tmp_path):
    ast.parse(code)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
