"""Data sources that feed the feature store from LaunchDarkly (streaming), and their status types."""
from ldfast.datasource.backoff import Backoff
from ldfast.datasource.sse import Event, SSEParser
from ldfast.datasource.status import (
    DataSourceErrorInfo,
    DataSourceErrorKind,
    DataSourceState,
    DataSourceStatus,
    DataSourceStatusProvider,
)
from ldfast.datasource.streaming import StreamingDataSource

__all__ = (
    "Backoff",
    "DataSourceErrorInfo",
    "DataSourceErrorKind",
    "DataSourceState",
    "DataSourceStatus",
    "DataSourceStatusProvider",
    "Event",
    "SSEParser",
    "StreamingDataSource",
)
