"""Sphinx configuration for ldfast's documentation (``make docs``: built with warnings as errors).

The API reference is autodoc over the pure-Python twins (``make docs`` sets LDFAST_NO_EXTENSIONS=1:
they are the typed source); the guides are README.md's sections, included so that the README stays
the one source.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import ldfast  # noqa: E402

project = "ldfast"
author = "ldfast contributors"
copyright = "ldfast contributors"
version = release = ldfast.VERSION

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
highlight_language = "python3"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_inherit_docstrings = True

myst_heading_anchors = 3
suppress_warnings = [
    # The guides are README sections included under their page title: they start at "##"/"###".
    "myst.header",
]

html_theme = "alabaster"
html_title = "ldfast %s" % release
