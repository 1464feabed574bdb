#!/usr/bin/env python3
"""A producer that is not written in Go: frameq's intake from the standard library.

usage: intake_client.py <intake-url> <items.json>
environment: FRAMEQ_KEY (API key), FRAMEQ_WEBHOOK_SECRET (to verify the webhook)

It listens for the webhook on 127.0.0.1, posts the batch with an
Idempotency-Key, polls its status until finished, checks the webhook's
signature, replays the request and checks the replay answers the same.
Prints one JSON line of what it saw; exits 1 on any failed check.
"""
import hashlib
import hmac
import http.server
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request

intake, items_file = sys.argv[1], sys.argv[2]
key = os.environ["FRAMEQ_KEY"]
secret = os.environ["FRAMEQ_WEBHOOK_SECRET"].encode()
hooks = queue.Queue()


def verify(header, body, tolerance=300):
    """The receiver's check: X-Frameq-Signature is t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t, sig = parts["t"], parts["v1"]
    want = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig) and abs(time.time() - int(t)) < tolerance


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(self.headers.get("X-Frameq-Signature", ""), body)
        hooks.put((ok, json.loads(body)))
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=listener.serve_forever, daemon=True).start()
callback = "http://127.0.0.1:%d/frameq-hook" % listener.server_address[1]


def call(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(intake + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def fail(msg, **seen):
    print(json.dumps(dict(seen, error=msg)))
    sys.exit(1)


with open(items_file) as f:
    items = json.load(f)
request = {"token_ref": "default", "items": items, "callback_url": callback}
idem = {"Idempotency-Key": "e2e-order-1"}

status, created = call("POST", "/v1/batches", request, idem)
if status != 201:
    fail("POST /v1/batches: %d" % status, answer=created)
batch = created["batch"]

deadline = time.time() + 240
while True:
    status, st = call("GET", "/v1/batches/" + batch)
    if status != 200:
        fail("GET status: %d" % status, answer=st)
    if st["finished"]:
        break
    if time.time() > deadline:
        fail("batch not finished in time", status=st)
    time.sleep(0.3)

try:
    ok, hook = hooks.get(timeout=60)
except queue.Empty:
    fail("no webhook within 60 s", status=st)
if not ok:
    fail("webhook signature does not verify", webhook=hook)

status, replay = call("POST", "/v1/batches", request, idem)
if status != 201 or replay != created:
    fail("replay answered differently", first=created, replay=replay, status=status)
status, conflict = call("POST", "/v1/batches", dict(request, items=items[:1]), idem)
if status != 409:
    fail("same Idempotency-Key, other body: %d, want 409" % status, answer=conflict)
time.sleep(1)  # a second webhook would show here
print(json.dumps({"created": created, "status": st, "webhook": hook, "webhooks": 1 + hooks.qsize()}))
