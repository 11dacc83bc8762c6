"""The official SDK's wrapper packages run on ldfast (``install_as_ldclient()``) as on the official SDK.

``tests/support/wrappers_script.py`` drives the OpenFeature provider, the AI SDK and the
OpenTelemetry hook over TestData; it runs once on each SDK, in its own interpreter, and the
answers must be the same.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

for name in ("ldclient", "ld_openfeature", "ldai", "ldotel", "opentelemetry.sdk"):
    pytest.importorskip(name)

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support", "wrappers_script.py")


def answers(sdk: str) -> dict:
    done = subprocess.run([sys.executable, SCRIPT, sdk], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_wrappers_answer_the_same_on_ldfast_and_on_the_official_sdk():
    official, ours = answers("official"), answers("ldfast")
    assert (official.pop("sdk"), ours.pop("sdk")) == ("ldclient", "ldfast")
    assert ours == official
    # (and the script checked something: each package answered)
    assert ours["ai"][:2] == [True, "gpt-x"] and ours["ai"][4] == [["system", "Hello Ann, you are u1"]]
    assert ours["of:str:get_string_details"][:2] == ["b", "1"]
    assert [s[0] for s in ours["otel"]] == ["request", "variation", "variation_detail"]
