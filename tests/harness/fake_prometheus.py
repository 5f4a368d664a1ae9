#!/usr/bin/env python3
"""A small HTTP server that speaks Prometheus' instant-query API, for metric
gate tests (a real Prometheus would need a scrape target and time to fill).

    fake_prometheus.py PORT STATE_FILE

GET /api/v1/query?query=Q[&time=T] answers from STATE_FILE, read on every
request: a JSON object mapping a query to a list of sample values (numbers,
or "NaN"), to "error" (Prometheus' error answer, HTTP 400), or absent (an
empty vector: no data). Each query is logged to stdout as "query Q".
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/api/v1/query":
            self.send_error(404)
            return
        query = parse_qs(url.query).get("query", [""])[0]
        print("query", query, flush=True)
        try:
            with open(sys.argv[2]) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {}
        entry = state.get(query)
        if entry == "error":
            body = {"status": "error", "errorType": "bad_data", "error": "parse error"}
            code = 400
        else:
            now = time.time()
            result = [
                {"metric": {"instance": "host%d" % i}, "value": [now, str(v)]}
                for i, v in enumerate(entry or [])
            ]
            body = {"status": "success", "data": {"resultType": "vector", "result": result}}
            code = 200
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
