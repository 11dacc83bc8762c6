#!/usr/bin/env bash
# LaunchDarkly's contract tests (sdk-test-harness v2.41.0) against ldfast's test service, once per
# client mode, persistence tests included. Fails on any failure.
#
#   tests/contract/run.sh [sync] [twisted] [asyncio] [sync-pure]      (default: every mode)
#
# sync: ldfast.LDClient; twisted: ldfast.TwistedLDClient; asyncio: ldfast.async_client.AsyncLDClient;
# sync-pure: LDClient on the pure-Python twins (LDFAST_NO_EXTENSIONS=1).
# The harness: $LD_TEST_HARNESS, else ../shared/sdk-test-harness/sdk-test-harness, else release
# v2.41.0 downloaded into .cache/. Redis: one on localhost:6379 is used as it is; when the port is
# free, a redis-server is started there for the run and stopped after it.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
VERSION=2.41.0
OUT=${CONTRACT_OUT:-build/contract-tests}
mkdir -p "$OUT"

harness=${LD_TEST_HARNESS:-}
if [ -z "$harness" ] && [ -x ../shared/sdk-test-harness/sdk-test-harness ]; then
  harness=../shared/sdk-test-harness/sdk-test-harness
fi
if [ -z "$harness" ]; then
  harness=.cache/sdk-test-harness-$VERSION/sdk-test-harness
  if [ ! -x "$harness" ]; then
    echo "downloading sdk-test-harness v$VERSION"
    mkdir -p "$(dirname "$harness")"
    curl -fsSL "https://github.com/launchdarkly/sdk-test-harness/releases/download/v$VERSION/sdk-test-harness_Linux_x86_64.tar.gz" \
      | tar -xz -C "$(dirname "$harness")" sdk-test-harness
  fi
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The harness listens on -port P (HTTP) and on P+1 (HTTPS, for the TLS tests), on all interfaces:
# a P whose P+1 is free too, below Linux's ephemeral range (32768+), so that no outgoing
# connection takes P+1 meanwhile (a run failed with "listen tcp :P+1: address already in use").
harness_port() { "$PY" -c '
import random, socket
for _ in range(500):
    p = random.randrange(20000, 32000, 2)
    held = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            held.append(s)
            s.bind(("", q))
    except OSError:
        continue
    finally:
        for s in held:
            s.close()
    print(p)
    break
else:
    raise SystemExit("no free pair of ports for the harness")
'; }

redis_pid=
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true; }
trap cleanup EXIT
if port_free 6379; then
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --loglevel warning >"$OUT/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 50); do port_free 6379 || break; sleep 0.1; done
fi

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(sync twisted asyncio sync-pure)
status=0
for mode in "${modes[@]}"; do
  port=$(free_port)
  pure=0
  client=$mode
  if [ "$mode" = sync-pure ]; then pure=1; client=sync; fi
  LDFAST_NO_EXTENSIONS=$pure "$PY" tests/contract/service.py --port "$port" --client "$client" \
    >"$OUT/service-$mode.log" 2>&1 &
  service=$!
  for _ in $(seq 100); do port_free "$port" || break; sleep 0.1; done
  echo "contract tests: $mode client (service log: $OUT/service-$mode.log)"
  set +e
  "$harness" -url "http://127.0.0.1:$port" -port "$(harness_port)" -enable-persistence-tests \
    -skip-from tests/contract/suppressions.txt -stop-service-at-end -junit "$OUT/junit-$mode.xml" \
    >"$OUT/harness-$mode.log" 2>&1
  rc=$?
  set -e
  kill "$service" 2>/dev/null || true
  wait "$service" 2>/dev/null || true
  grep -E "^  FAILED: " "$OUT/harness-$mode.log" || true
  summary=$(grep -E "^Test Summary:" "$OUT/harness-$mode.log" || echo "Test Summary: none (harness exit $rc)")
  failed=$(grep -cE "^  FAILED: " "$OUT/harness-$mode.log" || true)
  echo "contract tests, $mode client: $summary; $failed failed (log: $OUT/harness-$mode.log)"
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then status=1; fi
done
exit $status
