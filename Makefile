# ldfast: every target works from a fresh clone (it creates .venv and installs what it needs).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ldfast-installed

.PHONY: venv build services test test-c test-py contract-tests typecheck docs dist demo bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel Cython
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $(STAMP)

venv: $(STAMP)

build: venv
	$(PY) setup.py -q build_ext --inplace
	if [ -z "$$LDFAST_NO_EXTENSIONS" ] || [ "$$LDFAST_NO_EXTENSIONS" = 0 ]; then \
		$(VENV)/bin/cythonize -q -i tests/support/alloc_count.pyx; fi

# Services the test suite starts itself (on free loopback ports): Debian's redis-server.
services:
	@command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || { \
		echo "installing redis-server (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

test: build services
	$(PY) -m pytest -q
	LDFAST_NO_EXTENSIONS=1 $(PY) -m pytest -q --no-c-extensions -m "not install"
	$(MAKE) typecheck docs
	$(MAKE) contract-tests
	$(MAKE) dist

# What would be published, built from a clean copy of HEAD (uncommitted files stay out) in pip's
# isolated build environment (setuptools and Cython fetched, none preinstalled): an sdist and a wheel
# built from it, the wheel repaired to manylinux by auditwheel (stripped), `twine check`, contents checked,
# the wheel installed in a fresh venv outside the tree and its compiled twins run
# (tests/support/check_dist.py). Output: dist/.
dist: venv
	rm -rf dist && mkdir dist
	src=$$(mktemp -d) && git archive HEAD | tar -x -C $$src && \
		$(PY) -m build --outdir $(CURDIR)/dist $$src; rc=$$?; rm -rf $$src; exit $$rc
	$(PY) -m tests.support.check_dist dist

# mypy --strict over the package (config: [tool.mypy] in pyproject.toml; the _py twins are the typed source).
typecheck: venv
	$(PY) -m mypy

# The API reference and guides (docs/), warnings as errors; autodoc reads the pure twins.
docs: venv
	LDFAST_NO_EXTENSIONS=1 $(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# LaunchDarkly's contract tests (sdk-test-harness) against tests/contract/service.py, for the sync,
# the Twisted and the asyncio client, persistence tests included (a redis-server on 6379 is started when the
# port is free). The harness: $$LD_TEST_HARNESS, ../shared/sdk-test-harness, or downloaded.
contract-tests: build services
	PY=$(PY) bash tests/contract/run.sh

demo: build
	$(PY) examples/demo.py

bench: build services
	$(PY) -m pip install -q matplotlib
	$(PY) bench/compare.py
	$(PY) bench/put_bench.py
	$(PY) bench/events_bench.py
	$(PY) bench/redis_bench.py
	$(PY) bench/dynamodb_bench.py
	$(PY) bench/big_segments_bench.py
	if command -v wrk >/dev/null; then $(PY) bench/serve_bench.py && $(PY) bench/async_serve_bench.py; \
	else echo "serving benchmark skipped: wrk is not installed (apt-get install wrk)"; fi

clean:
	rm -rf build dist $(VENV) docs/_build .mypy_cache ldfast/_ext/*.c ldfast/_ext/*.so ldfast/_ext/*.html
