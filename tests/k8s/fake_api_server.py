#!/usr/bin/env python3
"""A fake Kubernetes API server for audex's pod-watch tests: serves the recorded
pod list (pods-list.json) for GET /api/v1/pods, and the recorded watch events
(pods-watch.jsonl) as a chunked stream for GET /api/v1/pods?watch=true, one
every --gap seconds, then holds the watch open.

  fake_api_server.py --port-file FILE [--gap S] [--requests FILE]

Writes its port to --port-file once listening; appends each request path to
--requests.
"""
import argparse, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.server.requests:
            with self.server.lock, open(self.server.requests, "a") as f:
                f.write(self.path + "\n")
        if "watch=true" in self.path or "watch=1" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            with open(os.path.join(HERE, "pods-watch.jsonl")) as f:
                events = [l for l in f.read().splitlines() if l.strip()]
            try:
                for ev in events:
                    time.sleep(self.server.gap)
                    data = (ev + "\n").encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                time.sleep(3600)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path.startswith("/api/v1/pods"):
            with open(os.path.join(HERE, "pods-list.json"), "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        else:
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--gap", type=float, default=1.0)
    ap.add_argument("--requests")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.gap, srv.requests, srv.lock = a.gap, a.requests, threading.Lock()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
