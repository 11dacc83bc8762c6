"""Which LaunchDarkly data source a client runs: streaming (the default) or polling (stream=False)."""
from __future__ import annotations

from typing import Any, Callable, Optional


def make_network_source(config: Any, store: Any, *, reactor: Any, status: Any, http_client: Any = None,
                        on_initialized: Optional[Callable[[], Any]] = None,
                        on_failure: Optional[Callable[[Any], Any]] = None) -> Any:
    if http_client is None:
        from ldfast._http import make_http_client

        http_client = make_http_client(reactor, config, persistent=not config.stream)
    if config.stream:
        from ldfast.datasource.streaming import StreamingDataSource

        return StreamingDataSource(config, store, reactor=reactor, http_client=http_client, status=status,
                                   on_initialized=on_initialized, on_failure=on_failure)
    from ldfast.datasource.polling import PollingDataSource

    return PollingDataSource(config, store, reactor=reactor, http_client=http_client, status=status,
                             on_initialized=on_initialized, on_failure=on_failure)
