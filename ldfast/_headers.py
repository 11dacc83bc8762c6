"""The headers of every request to LaunchDarkly (stream, poll, events), built in this one place.

As the official SDK's ``ldclient/impl/http.py`` ``_base_headers`` (PROTOCOL.md 8.6, 9.1, 9.2):

- ``Authorization``: the SDK key, raw (no scheme); ``User-Agent: PythonClient/<version>``.
- ``X-LaunchDarkly-Instance-Id``: the client's own uuid4 (``Config._instance_id``, set once per
  client by :meth:`ldfast.config.Config._with_instance_id`), the same on every request it makes.
- ``X-LaunchDarkly-Tags``: ``application-id/<id> application-version/<version>``, each part only
  when its (validated) value is not empty; no header when both are.
- ``X-LaunchDarkly-Wrapper``: ``name[/version]`` when a wrapper name is set.

Each kind of request adds its own: the stream ``Accept``/``Cache-Control`` (the SSE client's),
polling ``Content-Type`` and ``Accept-Encoding: gzip``, events ``Content-Type`` (and
``Content-Encoding: gzip`` with ``enable_event_compression``). Per-request headers
(``Last-Event-ID``, ``If-None-Match``, the event schema and payload id) are added by their senders.
"""
from __future__ import annotations

from typing import Any, Dict

from ldfast.version import VERSION

USER_AGENT = "PythonClient/" + VERSION


def tags_header_value(application: Any) -> str:
    """The ``X-LaunchDarkly-Tags`` value for a validated ``Config.application`` ("" for none)."""
    application = application or {}
    parts = []
    if application.get("id"):
        parts.append("application-id/%s" % application["id"])
    if application.get("version"):
        parts.append("application-version/%s" % application["version"])
    return " ".join(parts)


def base_headers(config: Any) -> Dict[str, str]:
    """The headers every request to LaunchDarkly carries (a new dict each call)."""
    headers = {"Authorization": config.sdk_key or "", "User-Agent": USER_AGENT}
    instance_id = getattr(config, "_instance_id", None)
    if instance_id:
        headers["X-LaunchDarkly-Instance-Id"] = instance_id
    tags = tags_header_value(config.application)
    if tags:
        headers["X-LaunchDarkly-Tags"] = tags
    wrapper_name = config.wrapper_name
    if isinstance(wrapper_name, str) and wrapper_name:
        wrapper_version = config.wrapper_version
        if isinstance(wrapper_version, str) and wrapper_version:
            wrapper_name += "/" + wrapper_version
        headers["X-LaunchDarkly-Wrapper"] = wrapper_name
    return headers


def stream_headers(config: Any) -> Dict[str, str]:
    """The stream request's headers (without ``Last-Event-ID``)."""
    headers = base_headers(config)
    headers["Accept"] = "text/event-stream"
    headers["Cache-Control"] = "no-cache"
    return headers


def poll_headers(config: Any) -> Dict[str, str]:
    """The polling request's headers (without ``If-None-Match``)."""
    headers = base_headers(config)
    headers["Content-Type"] = "application/json"
    headers["Accept-Encoding"] = "gzip"
    return headers


def event_headers(config: Any) -> Dict[str, str]:
    """The headers of analytics and diagnostic posts (without the event schema and payload id)."""
    headers = base_headers(config)
    headers["Content-Type"] = "application/json"
    if config.enable_event_compression:
        headers["Content-Encoding"] = "gzip"
    return headers


__all__ = ("USER_AGENT", "base_headers", "event_headers", "poll_headers", "stream_headers", "tags_header_value")
