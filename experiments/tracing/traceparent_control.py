"""A chaostoolkit control that hands the running activity's trace context to the processes
the activity starts, as W3C `TRACEPARENT` / `TRACESTATE` environment variables.

chaostoolkit's OpenTelemetry control (`chaostracing.oltp`, chaostoolkit-opentracing) makes one
span per activity and makes it the current OpenTelemetry span while the activity runs, but a
`process` provider (our identity probe, `superpower probe identity`) is a child process: it
cannot see the Python context. chaoslib starts a process with `env=os.environ`, so this control
puts the current span's context there for the duration of each activity; the probe sends it as
`traceparent`, and superpower's and powersource's spans join the experiment's trace.

It registers a run event handler after the OpenTelemetry control's (list it second among the
controls, as experiments/tracing/settings.yaml does): chaoslib calls the handlers in
registration order, so when ours runs, the activity span is already the current one.
"""

import os
from typing import Any

from chaoslib.run import EventHandlerRegistry, RunEventHandler
from chaoslib.types import Activity, Experiment, Run
from opentelemetry import propagate, trace

__all__ = ["configure_control", "CONTEXT_VARIABLES"]

# environment variable -> W3C header it carries
CONTEXT_VARIABLES = {"TRACEPARENT": "traceparent", "TRACESTATE": "tracestate"}


class TraceContextToEnvironment(RunEventHandler):
    """Sets TRACEPARENT/TRACESTATE while an activity runs, clears them afterwards."""

    def start_activity(self, activity: Activity) -> None:
        clear()
        if not trace.get_current_span().get_span_context().is_valid:
            return
        carrier: dict = {}
        propagate.inject(carrier)
        for variable, header in CONTEXT_VARIABLES.items():
            if carrier.get(header):
                os.environ[variable] = carrier[header]

    def activity_completed(self, activity: Activity, state: Run) -> None:
        clear()

    def finish(self, journal: Any) -> None:
        clear()


def clear() -> None:
    for variable in CONTEXT_VARIABLES:
        os.environ.pop(variable, None)


def configure_control(
    experiment: Experiment, event_registry: EventHandlerRegistry, **kwargs: Any
) -> None:
    event_registry.register(TraceContextToEnvironment())
