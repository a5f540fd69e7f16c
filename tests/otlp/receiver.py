#!/usr/bin/env python3
"""An independent OTLP logs receiver for audex's interop tests, built only on the
official `opentelemetry-proto` and `grpcio` packages (pip).

  receiver.py --grpc-port P --http-port Q --out FILE [--fail N --fail-code C]
              [--reject-first K] [--ready FILE]

Every accepted request is appended to FILE as one JSON line:
  {"transport": "grpc"|"http", "headers": {...}, "gzip": bool,
   "resources": [{"attributes": {...}, "scope": {...}, "records": [{"event_name", "time_unix_nano",
   "severity_number", "body", "attributes": {...}}]}]}
--fail N answers the first N requests with --fail-code (grpc: UNAVAILABLE,
RESOURCE_EXHAUSTED, INVALID_ARGUMENT; http: 503, 429, 400) instead of accepting.
--reject-first K reports K rejected records as partial success on the first
accepted request. Prints nothing; writes --ready FILE once listening.
"""
import argparse, gzip, json, threading, time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

lock = threading.Lock()
state = {"failures_left": 0, "reject_left": 0}


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind is None:
        return None
    return getattr(v, kind)


def summarize(req, transport, headers, gz):
    resources = []
    for rl in req.resource_logs:
        recs = []
        scope = {}
        for sl in rl.scope_logs:
            scope.update({kv.key: any_value(kv.value) for kv in sl.scope.attributes})
            for r in sl.log_records:
                recs.append({
                    "event_name": r.event_name,
                    "time_unix_nano": r.time_unix_nano,
                    "observed_time_unix_nano": r.observed_time_unix_nano,
                    "severity_number": r.severity_number,
                    "severity_text": r.severity_text,
                    "body": any_value(r.body),
                    "attributes": {kv.key: any_value(kv.value) for kv in r.attributes},
                })
        resources.append({"attributes": {kv.key: any_value(kv.value) for kv in rl.resource.attributes},
                          "scope": scope, "records": recs})
    return {"transport": transport, "headers": headers, "gzip": gz, "resources": resources}


def record(out, entry):
    with lock:
        with open(out, "a") as f:
            f.write(json.dumps(entry) + "\n")


def take_failure():
    with lock:
        if state["failures_left"] > 0:
            state["failures_left"] -= 1
            return True
        return False


def take_reject():
    with lock:
        k, state["reject_left"] = state["reject_left"], 0
        return k


class Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, args):
        self.args = args

    def Export(self, request, context):
        if take_failure():
            code = getattr(grpc.StatusCode, self.args.fail_code)
            context.abort(code, "injected failure")
        md = {k: v for k, v in context.invocation_metadata()}
        # grpcio decompresses in its transport and does not show grpc-encoding to
        # the servicer: compression is not observable here (None).
        record(self.args.out, summarize(request, "grpc", md, None))
        resp = logs_service_pb2.ExportLogsServiceResponse()
        k = take_reject()
        if k:
            resp.partial_success.rejected_log_records = k
            resp.partial_success.error_message = "injected partial rejection"
        return resp


def http_handler(args):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/logs":
                self.send_response(404); self.end_headers(); return
            if take_failure():
                code = int(args.fail_code) if args.fail_code.isdigit() else 503
                self.send_response(code)
                if code in (429, 503):
                    self.send_header("Retry-After", "1")
                self.end_headers(); return
            gz = self.headers.get("Content-Encoding") == "gzip"
            if gz:
                body = gzip.decompress(body)
            req = logs_service_pb2.ExportLogsServiceRequest()
            req.ParseFromString(body)
            record(args.out, summarize(req, "http", {k.lower(): v for k, v in self.headers.items()}, gz))
            resp = logs_service_pb2.ExportLogsServiceResponse()
            k = take_reject()
            if k:
                resp.partial_success.rejected_log_records = k
            data = resp.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
    return H


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--grpc-port", type=int, default=0)
    p.add_argument("--http-port", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--fail", type=int, default=0)
    p.add_argument("--fail-code", default="UNAVAILABLE")
    p.add_argument("--reject-first", type=int, default=0)
    p.add_argument("--ready")
    p.add_argument("--tls-cert", help="serve TLS with this PEM certificate")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca", help="require client certificates signed by this CA (mTLS)")
    args = p.parse_args()
    state["failures_left"] = args.fail
    state["reject_left"] = args.reject_first
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(args), server)
    if args.tls_cert:
        key, cert = open(args.tls_key, "rb").read(), open(args.tls_cert, "rb").read()
        ca = open(args.client_ca, "rb").read() if args.client_ca else None
        creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=bool(ca))
        gport = server.add_secure_port(f"127.0.0.1:{args.grpc_port}", creds)
    else:
        gport = server.add_insecure_port(f"127.0.0.1:{args.grpc_port}")
    server.start()
    httpd = ThreadingHTTPServer(("127.0.0.1", args.http_port), http_handler(args))
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write(json.dumps({"grpc": gport, "http": httpd.server_address[1]}))
        import os
        os.rename(args.ready + ".tmp", args.ready)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
