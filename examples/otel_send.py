"""Send traces to Ripple from any program, with nothing of Ripple's: the OpenTelemetry SDK
and its OTLP/HTTP exporter, spans named by the GenAI semantic conventions.

    python examples/otel_send.py --endpoint http://127.0.0.1:8750/v1/traces

Ripple maps ``gen_ai.*`` (and OpenInference) attributes onto model, tokens, input and output,
so ``ripple trace list --since 5m`` shows this program's calls beside the apps' own.
"""

from __future__ import annotations

import argparse
import os

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8750/v1/traces")
    parser.add_argument("--project", default="default")
    args = parser.parse_args()
    headers = {"X-Ripple-Project": args.project}
    if os.environ.get("RIPPLE_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['RIPPLE_TOKEN']}"
    provider = TracerProvider(resource=Resource.create({"service.name": "billing-assistant"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.endpoint, headers=headers)))
    tracer = provider.get_tracer("examples.otel_send")
    with tracer.start_as_current_span("answer refund question") as root:
        root.set_attribute("input.value", "Can I get a refund after 30 days?")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.input_tokens": 412,
                    "gen_ai.usage.output_tokens": 57,
                }
            )
        root.set_attribute("output.value", "Refunds are possible within 30 days of purchase.")
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()  # flushes the exporter
    print(f"sent trace {trace_id} to {args.endpoint}")


if __name__ == "__main__":
    main()
