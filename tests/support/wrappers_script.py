"""Drives the official SDK's wrapper packages (OpenFeature provider, AI SDK, OpenTelemetry hook)
over TestData and prints what they answered, as JSON. ``python wrappers_script.py ldfast`` runs it
on ldfast (``install_as_ldclient()`` first); ``... official`` on launchdarkly-server-sdk."""
import json
import sys

if sys.argv[1] == "ldfast":
    import ldfast

    ldfast.install_as_ldclient()

import ldclient  # noqa: E402
from ldclient import Context  # noqa: E402
from ldclient.config import Config  # noqa: E402
from ldclient.integrations.test_data import TestData  # noqa: E402

out = {"sdk": ldclient.__name__}


def data_source():
    td = TestData.data_source()
    td.update(td.flag("bool").variation_for_all(True))
    td.update(td.flag("str").variations("a", "b").fallthrough_variation(1).on(True))
    td.update(td.flag("obj").variations({"x": 1}, {"x": 2}).variation_for_key("user", "u1", 1)
              .fallthrough_variation(0))
    td.update(td.flag("ai").variations({
        "_ldMeta": {"enabled": True, "variationKey": "v1", "version": 3},
        "model": {"name": "gpt-x", "parameters": {"temperature": 0.5}},
        "provider": {"name": "openai"},
        "messages": [{"role": "system", "content": "Hello {{name}}, you are {{ldctx.key}}"}],
    }).variation_for_all(0))
    return td


# OpenFeature
from ld_openfeature import LaunchDarklyProvider  # noqa: E402
from openfeature import api  # noqa: E402
from openfeature.evaluation_context import EvaluationContext  # noqa: E402

provider = LaunchDarklyProvider(Config("sdk-key", update_processor_class=data_source(), send_events=False))
api.set_provider(provider)
of = api.get_client()
ctx = EvaluationContext("u1", {"kind": "user", "name": "Ann"})
for key, call, default in [("bool", of.get_boolean_details, False), ("str", of.get_string_details, "z"),
                           ("obj", of.get_object_details, {}), ("missing", of.get_string_details, "dflt"),
                           ("str", of.get_boolean_details, False)]:
    d = call(key, default, ctx)
    out["of:%s:%s" % (key, call.__name__)] = [d.value, d.variant, str(d.reason), str(d.error_code), d.error_message]
out["of:metadata"] = provider.get_metadata().name
api.shutdown()

# AI SDK
from ldai.client import LDAIClient  # noqa: E402

client = ldclient.LDClient(Config("sdk-key", update_processor_class=data_source(), send_events=False))
ai = LDAIClient(client)
config = ai.completion_config("ai", Context.create("u1"), variables={"name": "Ann"})
out["ai"] = [config.enabled, config.model.name if config.model else None,
             config.model.get_parameter("temperature") if config.model else None,
             config.provider.name if config.provider else None,
             [(m.role, m.content) for m in (config.messages or [])]]
missing = ai.completion_config("nope", Context.create("u1"))
out["ai:missing"] = [missing.enabled]
client.close()

# OpenTelemetry hook
from ldotel.tracing import Hook, HookOptions  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

exporter = InMemorySpanExporter()
tp = TracerProvider()
tp.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(tp)
client = ldclient.LDClient(Config("sdk-key", update_processor_class=data_source(), send_events=False,
                                  hooks=[Hook(HookOptions(add_spans=True, include_value=True))]))
with trace.get_tracer("test").start_as_current_span("request"):
    client.variation("str", Context.create("u1"), "z")
    client.variation_detail("bool", Context.create("u2"), False)
client.close()
spans = []
for span in sorted(exporter.get_finished_spans(), key=lambda s: s.name):
    spans.append([span.name, sorted((k, v) for k, v in (span.attributes or {}).items()),
                  [[e.name, sorted((k, v) for k, v in (e.attributes or {}).items())] for e in span.events]])
out["otel"] = spans
print(json.dumps(out, sort_keys=True, default=str))
