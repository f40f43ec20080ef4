#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for tests and for a machine without Jaeger: it takes what an
OpenTelemetry exporter sends to `POST /v1/traces` (protobuf or JSON), decodes it with the
official protobuf classes (PyPI `opentelemetry-proto`), and keeps every span, flattened, in
memory and in a JSON-lines file.

    traces/receiver.py --listen 127.0.0.1:4318 [--port-file FILE] [--spans FILE]

Reading back (what the suite's assertions use):
    GET  /spans                  every span received, as a JSON list (see `flatten`)
    GET  /spans?trace_id=HEX     the spans of one trace
    GET  /stats                  {"requests": N, "spans": N, "mode": ...}
Chaos on the observer:
    PUT  /mode?mode=ok           answer exports at once (the default)
    PUT  /mode?mode=slow&seconds=S   hold each export S seconds before answering
    PUT  /mode?mode=error        answer every export 503 (and keep nothing)
A black-holed collector is this process stopped (SIGSTOP: connections are accepted by the
kernel and never answered); a dead one is this process killed.

It stands in for Jaeger's OTLP endpoint (port 4318) only: no storage beyond the run, no UI.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS = {0: "unset", 1: "ok", 2: "error"}


def any_value(v):
    """An OTLP AnyValue as plain Python."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def flatten(request):
    """The spans of an ExportTraceServiceRequest, one dict each: trace_id, span_id,
    parent_span_id (hex; "" for a root), trace_state, name, kind, service (service.name),
    resource, attributes, status, start_ns, end_ns."""
    out = []
    for rs in request.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    {
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "trace_state": s.trace_state,
                        "name": s.name,
                        "kind": KINDS.get(s.kind, str(s.kind)),
                        "service": resource.get("service.name"),
                        "resource": resource,
                        "scope": ss.scope.name,
                        "attributes": {kv.key: any_value(kv.value) for kv in s.attributes},
                        "status": STATUS.get(s.status.code, str(s.status.code)),
                        "start_ns": s.start_time_unix_nano,
                        "end_ns": s.end_time_unix_nano,
                    }
                )
    return out


class Store:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.spans = []
        self.requests = 0
        self.mode = "ok"
        self.slow_seconds = 0.0
        self.file = open(path, "a", encoding="utf-8") if path else None

    def add(self, spans):
        with self.lock:
            self.requests += 1
            self.spans.extend(spans)
            if self.file:
                for s in spans:
                    self.file.write(json.dumps(s) + "\n")
                self.file.flush()


def handler(store):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the suite reads /stats
            pass

        def answer(self, status, body=b"", content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if url.path != "/v1/traces":
                return self.answer(404, b'{"error": "only /v1/traces"}')
            if store.mode == "slow":
                time.sleep(store.slow_seconds)
            if store.mode == "error":
                return self.answer(503, b'{"error": "mode=error"}')
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            request = ExportTraceServiceRequest()
            try:
                if ctype == "application/json":
                    json_format.Parse(body, request)
                else:
                    request.ParseFromString(body)
            except Exception as e:  # a bad export is refused, clearly
                return self.answer(400, json.dumps({"error": f"undecodable OTLP: {e}"}).encode())
            store.add(flatten(request))
            if ctype == "application/json":
                return self.answer(200, b"{}")
            return self.answer(
                200,
                ExportTraceServiceResponse().SerializeToString(),
                "application/x-protobuf",
            )

        def do_GET(self):
            url = urlparse(self.path)
            q = parse_qs(url.query)
            if url.path == "/spans":
                with store.lock:
                    spans = list(store.spans)
                if "trace_id" in q:
                    spans = [s for s in spans if s["trace_id"] == q["trace_id"][0]]
                return self.answer(200, json.dumps(spans).encode())
            if url.path == "/stats":
                with store.lock:
                    stats = {"requests": store.requests, "spans": len(store.spans), "mode": store.mode}
                return self.answer(200, json.dumps(stats).encode())
            if url.path == "/health":
                return self.answer(200, b'{"ok": true}')
            return self.answer(404, b'{"error": "no such path"}')

        def do_PUT(self):
            url = urlparse(self.path)
            q = parse_qs(url.query)
            if url.path != "/mode" or q.get("mode", [""])[0] not in ("ok", "slow", "error"):
                return self.answer(400, b'{"error": "PUT /mode?mode=ok|slow|error[&seconds=S]"}')
            store.mode = q["mode"][0]
            store.slow_seconds = float(q.get("seconds", ["5"])[0])
            return self.answer(200, json.dumps({"mode": store.mode}).encode())

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:4318", help="host:port (port 0: any free port)")
    ap.add_argument("--port-file", help="write the port listened on here, once listening")
    ap.add_argument("--spans", help="append every span here as one JSON line")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    try:
        server = ThreadingHTTPServer((host, int(port)), handler(Store(args.spans)))
    except (OSError, ValueError) as e:
        print(f"receiver: cannot listen on {args.listen}: {e}", file=sys.stderr)
        return 2
    server.daemon_threads = True
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        import os

        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"receiver: OTLP/HTTP on {host}:{server.server_address[1]}/v1/traces", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
