"""Suite-wide options: ``--no-c-extensions`` deselects tests of the compiled twins; ``impl``."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--no-c-extensions", action="store_true", default=False,
                     help="deselect tests marked c_extension (for a pure-Python run)")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--no-c-extensions"):
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("c_extension") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=[pytest.param("c", marks=pytest.mark.c_extension), "py"])
def impl(request):
    """Which twin a module-level test targets: "c" (compiled) or "py" (pure Python)."""
    return request.param


@pytest.fixture(params=("sync", "twisted", "asyncio"))  # tests.support.faces.FACES
def face(request):
    """A behaviour's test through every face: ``LDClient``, ``TwistedLDClient`` (on a reactor
    thread) or ``AsyncLDClient`` (on an asyncio loop thread) behind one blocking interface
    (``tests.support.faces.Face``); closed at the end."""
    from tests.support.faces import Face

    f = Face(request.param)
    yield f
    f.close()


@pytest.fixture(scope="module")
def server():
    """A real redis-server on a free loopback port, one per test module (the Redis tests)."""
    from tests.support.redis_server import RedisServer

    with RedisServer() as srv:
        yield srv


@pytest.fixture
def raw(server):
    """A redis-py connection to ``server``, for writing and reading what the SDKs see."""
    import redis

    r = redis.Redis.from_url(server.url)
    yield r
    r.close()


@pytest.fixture(scope="module")
def moto():
    """A real DynamoDB-compatible server (moto in server mode) on a free loopback port, one per
    test module (the DynamoDB tests); ``moto.dynamodb_opts`` connects a store or a client to it."""
    from tests.support.moto_server import MotoServer

    with MotoServer() as srv:
        yield srv


@pytest.fixture
def table(moto):
    """A new empty table on ``moto``, in the SDKs' layout (partition key ``namespace``, sort key ``key``)."""
    import uuid

    return moto.create_table("t-%s" % uuid.uuid4().hex[:10])
