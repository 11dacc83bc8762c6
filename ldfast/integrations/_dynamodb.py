"""The DynamoDB persistent feature store: LaunchDarkly's DynamoDB layout on ``PersistentFeatureStore``.

``DynamoDB.new_feature_store(table_name, ...)`` returns a ``DynamoDBFeatureStore``: the
read-through cache, worker, daemon mode and outage handling of ``ldfast.integrations._persistent``
over a DynamoDB table, with boto3 (the optional extra ``ldfast[dynamodb]``). The layout is the one
the official SDKs and the Relay Proxy read and write, so they share a table with ldfast:

- The table exists already (the SDK never creates it): partition key ``namespace`` and sort key
  ``key``, both strings. Every item of every kind is in it, as ``{namespace: "{prefix}:features"
  or "{prefix}:segments" (no prefix: "features"), key, version (a number), item (the JSON)}``.
- ``$inited`` is an item with both keys ``"{prefix}:$inited"`` and no other attribute.
- A full data set (DynamoDB has no transactions) puts every item (segments first, then flags),
  then deletes the items of those namespaces that are not in it, then puts ``$inited``; batches
  of 25 (``BatchWriteItem``), unprocessed items retried. An upsert is a ``PutItem`` with the
  condition ``attribute_not_exists(#namespace) or attribute_not_exists(#key) or :version >
  #version``: an older version never replaces a newer one, whichever process writes. Deletes are
  upserts of tombstones.
- DynamoDB refuses items over 400 KB: as the other LaunchDarkly SDKs do, an item whose attributes
  add up to more (100 bytes of overhead, plus names and values in UTF-8) is not written and an
  error is logged (``The item "k" in "features" was too large to store in DynamoDB and was
  dropped``); everything else is stored, and the cache still serves the item.
- Reads are consistent: ``BatchGetItem`` (100 keys each) for keys, a paginated ``Query`` per
  namespace for every item.

boto3 calls block: they run on the store's worker thread, on the sync client's calling thread,
or in the Twisted/asyncio client's thread pool, never on a reactor or loop. Unless
``dynamodb_opts`` passes a ``config``, the client gets 5 s connect/read timeouts and 2 attempts
(boto3's defaults are 60 s and more retries, too long for an outage to be noticed); a ``config``
of yours is merged over those.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Type

from ldfast.feature_store import CacheConfig
from ldfast.integrations._persistent import PersistentFeatureStore
from ldfast.integrations._persistent_cache import _NS, Fetched, dumps_item, writable_items

log = logging.getLogger(__name__)

PARTITION_KEY = "namespace"
SORT_KEY = "key"
VERSION_ATTRIBUTE = "version"
ITEM_JSON_ATTRIBUTE = "item"
MAX_ITEM_SIZE = 400 * 1024
_ITEM_OVERHEAD = 100  # what DynamoDB counts for an item's index data
_BATCH_WRITE = 25  # DynamoDB's limits per BatchWriteItem / BatchGetItem
_BATCH_GET = 100
_BATCH_ATTEMPTS = 8  # rounds of unprocessed items before giving up (an outage)
_UPSERT_CONDITION = "attribute_not_exists(#namespace) or attribute_not_exists(#key) or :version > #version"


class UnprocessedItems(Exception):
    """DynamoDB left part of a batch unprocessed (throttled) round after round."""


def import_boto3(what: str) -> Any:
    """The boto3 module, or an ImportError that names the extra to install."""
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError("the DynamoDB %s needs boto3: pip install 'ldfast[dynamodb]'" % what) from None
    return boto3


def make_client(boto3: Any, dynamodb_opts: Optional[Mapping[str, Any]]) -> Any:
    """A DynamoDB client from ``dynamodb_opts`` (boto3's ``Session.client`` keyword arguments),
    with short timeouts unless they say otherwise. Its own session: creating clients on several
    threads through boto3's default session is not thread-safe."""
    from botocore.config import Config  # type: ignore[import-untyped]

    opts = dict(dynamodb_opts or {})
    defaults = Config(connect_timeout=5, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
    config = opts.pop("config", None)
    if config is not None and not isinstance(config, Config):
        raise TypeError("dynamodb_opts['config'] must be a botocore.config.Config, got %r" % (type(config),))
    opts["config"] = defaults if config is None else defaults.merge(config)
    return boto3.session.Session().client("dynamodb", **opts)


def client_errors() -> Tuple[Type[Exception], Type[Exception]]:
    """The exceptions that mean DynamoDB did not do what was asked: botocore's (BotoCoreError,
    ClientError)."""
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    return (BotoCoreError, ClientError)


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _keys(namespace: str, key: str) -> Dict[str, Any]:
    return {PARTITION_KEY: {"S": namespace}, SORT_KEY: {"S": key}}


def _item_size(item: Mapping[str, Any]) -> int:
    size = _ITEM_OVERHEAD
    for name, value in item.items():
        size += len(name.encode())
        for text in value.values():
            size += len(text.encode()) if isinstance(text, str) else 0
    return size


def _chunks(items: List[Any], size: int) -> Iterator[List[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class DynamoDBFeatureStore(PersistentFeatureStore):
    """A feature store kept in a DynamoDB table, evaluated from a read-through cache; see the
    module docstrings here and in ``ldfast.integrations._persistent``."""

    backend_name = "DynamoDB"

    def __init__(self, table_name: str, prefix: Optional[str] = None,
                 dynamodb_opts: Optional[Mapping[str, Any]] = None, caching: Optional[CacheConfig] = None):
        if not isinstance(table_name, str) or not table_name:
            raise ValueError("table_name must be the name of an existing DynamoDB table, got %r" % (table_name,))
        if prefix is not None and not isinstance(prefix, str):
            raise TypeError("prefix must be a str or None, got %r" % (prefix,))
        super().__init__(caching)
        self._d_boto3 = import_boto3("feature store")
        boto_error, self._d_client_error = client_errors()
        self._errors = (boto_error, self._d_client_error, UnprocessedItems)
        self._d_table = table_name
        self._d_prefix = prefix + ":" if prefix else ""
        self._d_opts = dict(dynamodb_opts or {})
        self._d_client: Any = make_client(self._d_boto3, self._d_opts)
        self._d_inited_key = self._d_prefix + "$inited"
        log.info("DynamoDB feature store for table %r, prefix %r", table_name, prefix or "")

    def _client(self) -> Any:
        client = self._d_client
        if client is None:  # (closed, or forked: a client of this process's own)
            with self._p_sync:
                if self._d_client is None:
                    self._d_client = make_client(self._d_boto3, self._d_opts)
                client = self._d_client
        return client

    def _namespace(self, ns: str) -> str:
        return self._d_prefix + ns

    def _disconnect(self) -> None:
        client, self._d_client = self._d_client, None
        if client is not None:
            client.close()

    def _reconnect(self) -> None:
        self._d_client = None  # (the parent's connections stay the parent's)

    # -- reads --------------------------------------------------------------------------------

    def _fetch(self, want: Mapping[str, List[str]]) -> Fetched:
        got: Fetched = {ns: dict.fromkeys(keys) for ns, keys in want.items()}
        by_namespace = {self._namespace(ns): ns for ns in want}
        wanted = [(self._namespace(ns), key) for ns, keys in want.items() for key in keys]
        client = self._client()
        for chunk in _chunks(wanted, _BATCH_GET):
            request: Dict[str, Any] = {self._d_table: {"Keys": [_keys(n, k) for n, k in chunk],
                                                       "ConsistentRead": True}}
            for _ in range(_BATCH_ATTEMPTS):
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._d_table, ()):
                    ns = by_namespace.get(item[PARTITION_KEY]["S"])
                    text = item.get(ITEM_JSON_ATTRIBUTE, {}).get("S")
                    if ns is not None and isinstance(text, str):
                        got[ns][item[SORT_KEY]["S"]] = text.encode()
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05)
            else:
                raise UnprocessedItems("DynamoDB left keys unread after %d attempts" % _BATCH_ATTEMPTS)
        return got

    def _query(self, ns: str, *attributes: str) -> Iterator[Dict[str, Any]]:
        request: Dict[str, Any] = {
            "TableName": self._d_table, "ConsistentRead": True,
            "KeyConditionExpression": "#namespace = :namespace",
            "ExpressionAttributeNames": {"#namespace": PARTITION_KEY},
            "ExpressionAttributeValues": {":namespace": {"S": self._namespace(ns)}},
        }
        if attributes:
            names = {"#a%d" % i: name for i, name in enumerate(attributes)}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"].update(names)
        for page in self._client().get_paginator("query").paginate(**request):
            yield from page.get("Items", ())

    def _fetch_all(self) -> Dict[str, Dict[str, bytes]]:
        out: Dict[str, Dict[str, bytes]] = {}
        for ns in _NS:
            items = out[ns] = {}
            for item in self._query(ns, SORT_KEY, ITEM_JSON_ATTRIBUTE):
                text = item.get(ITEM_JSON_ATTRIBUTE, {}).get("S")
                if isinstance(text, str):
                    items[item[SORT_KEY]["S"]] = text.encode()
        return out

    def _has_inited(self) -> bool:
        response = self._client().get_item(TableName=self._d_table, ConsistentRead=True,
                                           Key=_keys(self._d_inited_key, self._d_inited_key))
        return bool(response.get("Item"))

    # -- writes -------------------------------------------------------------------------------

    def _marshal(self, ns: str, key: str, raw: Any) -> Optional[Tuple[Dict[str, Any], str]]:
        """The DynamoDB item for a raw item and its JSON; None (logged) if it cannot be stored."""
        version = raw.get("version") if isinstance(raw, dict) else None
        if isinstance(version, bool) or not isinstance(version, int):
            log.error("Cannot write %s %r to DynamoDB: its version is not an integer (%r)", ns, key, version)
            return None
        text = dumps_item(ns, key, raw)
        if text is None:
            return None
        item = _keys(self._namespace(ns), key)
        item[VERSION_ATTRIBUTE] = {"N": str(version)}
        item[ITEM_JSON_ATTRIBUTE] = {"S": text}
        if _item_size(item) > MAX_ITEM_SIZE:
            log.error('The item "%s" in "%s" was too large to store in DynamoDB and was dropped', key, ns)
            return None
        return item, text

    def _write_all(self, segments: Dict[str, Any], flags: Dict[str, Any]) -> Dict[str, Dict[str, bytes]]:
        data = dict(zip(_NS, (writable_items(segments), writable_items(flags))))
        old = {(ns, item[SORT_KEY]["S"]) for ns in _NS for item in self._query(ns, SORT_KEY)}
        requests: List[Dict[str, Any]] = []
        seen: Dict[str, Dict[str, bytes]] = {}
        for ns in _NS:  # segments first: a reader of a half-written table finds a flag's segments
            encoded = seen[ns] = {}
            for key, raw in data[ns].items():
                marshalled = self._marshal(ns, key, raw)
                old.discard((ns, key))
                if marshalled is not None:
                    requests.append({"PutRequest": {"Item": marshalled[0]}})
                    encoded[key] = marshalled[1].encode()
        requests += [{"DeleteRequest": {"Key": _keys(self._namespace(ns), key)}} for ns, key in sorted(old)]
        requests.append({"PutRequest": {"Item": _keys(self._d_inited_key, self._d_inited_key)}})
        self._batch_write(requests)
        log.info("Initialized DynamoDB table %r with %d items", self._d_table, len(data[_NS[0]]) + len(data[_NS[1]]))
        return seen

    def _batch_write(self, requests: List[Dict[str, Any]]) -> None:
        client = self._client()
        for chunk in _chunks(requests, _BATCH_WRITE):
            pending: Dict[str, Any] = {self._d_table: chunk}
            for _ in range(_BATCH_ATTEMPTS):
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05)
            else:
                raise UnprocessedItems("DynamoDB left items unwritten after %d attempts" % _BATCH_ATTEMPTS)

    def _write_one(self, ns: str, key: str, item: Dict[str, Any]) -> Optional[bytes]:
        marshalled = self._marshal(ns, key, item)
        if marshalled is None:
            return None
        try:
            self._client().put_item(
                TableName=self._d_table, Item=marshalled[0], ConditionExpression=_UPSERT_CONDITION,
                ExpressionAttributeNames={"#namespace": PARTITION_KEY, "#key": SORT_KEY, "#version": VERSION_ATTRIBUTE},
                ExpressionAttributeValues={":version": marshalled[0][VERSION_ATTRIBUTE]})
        except self._d_client_error as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise
            log.debug("DynamoDB already has %s %r at a version >= %s", ns, key, item.get("version"))
            return None
        return marshalled[1].encode()


class DynamoDB:
    """Factory methods for DynamoDB integrations, as ``ldclient.integrations.DynamoDB``."""

    @staticmethod
    def new_feature_store(table_name: str, prefix: Optional[str] = None, dynamodb_opts: Mapping[str, Any] = {},
                          caching: CacheConfig = CacheConfig.default()) -> DynamoDBFeatureStore:
        """A DynamoDB feature store for ``Config(feature_store=...)`` (and ``use_ldd=True`` for daemon mode).

        The table must exist, with a string partition key ``namespace`` and a string sort key ``key``.

        :param table_name: the name of the table
        :param prefix: a prefix for the ``namespace`` of every item, shared with the other SDKs and
            the Relay Proxy (none by default)
        :param dynamodb_opts: keyword arguments for boto3's ``Session.client("dynamodb", ...)``
            (``region_name``, ``endpoint_url``, credentials, ``config``); without them boto3 reads
            the environment and AWS configuration files
        :param caching: ``CacheConfig``: how long a cached item is served before it is read from
            DynamoDB again (``expiration`` s; forever when infinite; not cached when disabled);
            ``capacity`` bounds the keys cached as "not in DynamoDB"
        """
        return DynamoDBFeatureStore(table_name, prefix=prefix, dynamodb_opts=dynamodb_opts, caching=caching)

    @staticmethod
    def new_big_segment_store(table_name: str, prefix: Optional[str] = None,
                              dynamodb_opts: Mapping[str, Any] = {}) -> Any:
        """A DynamoDB Big Segment store for ``BigSegmentsConfig(store=...)`` (the table as above)."""
        from ldfast.integrations._dynamodb_big_segments import DynamoDBBigSegmentStore

        return DynamoDBBigSegmentStore(table_name, prefix=prefix, dynamodb_opts=dynamodb_opts)


__all__ = ("DynamoDB", "DynamoDBFeatureStore")
