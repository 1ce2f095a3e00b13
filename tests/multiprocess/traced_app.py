"""The app a ``rota worker`` process runs in the tracing test (imported by ``rota worker``).

Its tracer provider writes every span as one JSON object per line to the file that
``ROTA_TEST_SPANS`` names, as the span ends, so the test can read the worker's spans.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from rota import App, JobContext


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                out.write(json.dumps(as_dict(span)) + "\n")
        return SpanExportResult.SUCCESS


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "description": span.status.description,
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
    }


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ["ROTA_TEST_SPANS"])))
app = App(tracing=provider)  # ROTA_STORE_URL from the test


@app.task(name="traced.ok")
async def ok(n: int, ctx: JobContext) -> int:
    with provider.get_tracer("traced_app").start_as_current_span("inside the handler"):
        await ctx.progress(1.0, "done")
    return n


@app.task(name="traced.fail", retry=1)
async def fail(n: int) -> None:
    raise ValueError(f"bad input {n}")
