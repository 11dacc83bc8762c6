"""DynamoDBBigSegmentStore: Big Segment memberships in DynamoDB, as the Relay Proxy writes them.

Layout (the official SDKs' and the Relay Proxy's, in the feature store's table): the item
``{namespace: "{prefix}:big_segments_metadata", key: the same}`` holds ``synchronizedOn`` (a number,
Unix ms of the last synchronization); ``{namespace: "{prefix}:big_segments_user", key: the hashed
context key}`` holds string sets ``included`` and ``excluded`` of segment refs
(``"{segmentKey}.g{generation}"``). Excluded refs map to False, then included ones to True
(include wins); neither means None. boto3, blocking calls: the manager runs them off any reactor
(see ``ldfast.big_segments``); 5 s timeouts unless ``dynamodb_opts`` passes a ``config``.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

from ldfast.big_segments import BigSegmentStore, BigSegmentStoreMetadata
from ldfast.integrations._dynamodb import PARTITION_KEY, SORT_KEY, import_boto3, make_client

log = logging.getLogger(__name__)

_METADATA = "big_segments_metadata"
_USER_DATA = "big_segments_user"
_SYNC_TIME = "synchronizedOn"
_INCLUDED = "included"
_EXCLUDED = "excluded"


def _string_set(item: Mapping[str, Any], name: str) -> List[str]:
    value = item.get(name)
    refs = value.get("SS") if isinstance(value, dict) else None
    return [ref for ref in refs if isinstance(ref, str)] if isinstance(refs, list) else []


class DynamoDBBigSegmentStore(BigSegmentStore):
    """``DynamoDBBigSegmentStore(table_name, prefix=None, dynamodb_opts={})``: the Big Segment store
    over DynamoDB (``BigSegmentsConfig(store=...)``); see the module docstring."""

    def __init__(self, table_name: str, prefix: Optional[str] = None,
                 dynamodb_opts: Optional[Mapping[str, Any]] = None):
        if not isinstance(table_name, str) or not table_name:
            raise ValueError("table_name must be the name of an existing DynamoDB table, got %r" % (table_name,))
        if prefix is not None and not isinstance(prefix, str):
            raise TypeError("prefix must be a str or None, got %r" % (prefix,))
        boto3 = import_boto3("Big Segment store")
        self._table = table_name
        self._prefix = prefix + ":" if prefix else ""
        self._client = make_client(boto3, dynamodb_opts)
        log.info("DynamoDB Big Segment store for table %r, prefix %r", table_name, prefix or "")

    def _get(self, namespace: str, key: str) -> Dict[str, Any]:
        response = self._client.get_item(TableName=self._table,
                                         Key={PARTITION_KEY: {"S": namespace}, SORT_KEY: {"S": key}})
        item = response.get("Item")
        return item if isinstance(item, dict) else {}

    def get_metadata(self) -> BigSegmentStoreMetadata:
        """When the store was last synchronized (None if never). A non-integer value raises ValueError."""
        key = self._prefix + _METADATA
        value = self._get(key, key).get(_SYNC_TIME, {}).get("N")
        return BigSegmentStoreMetadata(None if value is None else int(value))

    def get_membership(self, context_hash: str) -> Optional[Dict[str, bool]]:
        """``{segment ref: included}`` for a hashed context key, or None when it is in no set."""
        item = self._get(self._prefix + _USER_DATA, context_hash)
        included, excluded = _string_set(item, _INCLUDED), _string_set(item, _EXCLUDED)
        if not included and not excluded:
            return None
        membership = dict.fromkeys(excluded, False)
        membership.update(dict.fromkeys(included, True))  # include wins over exclude
        return membership

    def stop(self) -> None:
        """Close the client's connections."""
        self._client.close()


__all__ = ("DynamoDBBigSegmentStore",)
