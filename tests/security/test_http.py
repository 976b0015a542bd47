"""The HTTP surface as an attacker pokes it: every /v1 path and method answers JSON, odd
headers (Last-Event-ID, Authorization, huge or non-ASCII ones) and odd numbers are 4xx,
never a 500, and bodies over the limit are 413 however they are sent."""

from __future__ import annotations

import json
import socket

import httpx
import re

import pytest

from tests.security.conftest import assert_json_error, wait_job

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@pytest.fixture(scope="module")
def done_job(as_):
    c = as_("alice")
    job = c.post("/v1/jobs", json={"tool": "sleeper", "preset": "smoke"}).json()
    wait_job(c, job["id"])
    return job["id"]


@pytest.mark.parametrize("path", ["/v1/nope", "/v1/", "/v1/jobs/x/y/z", "/v1/..%2f..%2fetc%2fpasswd", "/v1/чат",
                                  "/v1/" + "a" * 3000, "/v1/jobs//artifacts/"])
@pytest.mark.parametrize("method", METHODS)
def test_unknown_v1_paths_are_json_404(as_, path, method):
    err = assert_json_error(as_("alice").request(method, path), 404, 405)
    assert err["code"] in ("not_found", "method_not_allowed")


def test_wrong_method_on_every_route_is_json_405_with_allow(as_):
    """Every documented /v1 operation: the methods it does not have answer 405 JSON."""
    c = as_("alice")
    spec = as_(None).get("/openapi.json").json()
    checked = 0
    patterns = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), ops) for p, ops in spec["paths"].items()]
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1"):
            continue
        concrete = path.replace("{job_id}", "nosuchjob").replace("{name}", "x.png").replace("{tool}", "cnn")
        # methods another operation serves at the same concrete path (GET /v1/vision/models beside
        # POST /v1/vision/{model}) are not wrong methods there
        served = {m for rx, o in patterns if rx.match(concrete) for m in o}
        for method in METHODS:
            if method.lower() in served:
                continue
            r = c.request(method, concrete)
            err = assert_json_error(r, 405)
            assert err["code"] == "method_not_allowed" and r.headers["allow"]
            assert {m.upper() for m in ops} <= set(r.headers["allow"].replace(" ", "").split(","))
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("value", ["²", "٣", "-1", "1e23", "99999999999999999999", "abc", "3.5", "0x10",
                                   "1" * 64, "+7", "1;2", "7"])
def test_last_event_id_never_500(as_, done_job, value):
    c = as_("alice")
    r = c.get(f"/v1/jobs/{done_job}/events", headers={"Last-Event-ID": value.encode("utf-8")})
    if value.strip().isascii() and value.strip().isdigit() and int(value.strip()) < 2**31:
        assert r.status_code == 200
    else:
        assert_json_error(r, 400, 422)


@pytest.mark.parametrize("since", ["1e23", str(10**30), "-1", "²", "nan", "inf", str(2**31), str(2**63)])
def test_since_and_other_numbers_never_500(as_, since):
    c = as_("alice")
    assert_json_error(c.get("/v1/jobs/whatever/events", params={"since": since}), 404, 422)
    assert_json_error(c.get("/v1/jobs", params={"limit": since}), 422)
    assert_json_error(c.get("/v1/jobs", params={"offset": since}), 422)
    assert_json_error(c.post("/v1/search", json={"query": "x", "k": since}), 422)


def test_every_integer_query_parameter_rejects_huge_values(as_, sec_server):
    """From the schema: no integer parameter reaches SQLite unbounded (OverflowError → 500)."""
    spec = as_(None).get("/openapi.json").json()
    c = as_("alice")
    seen = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                if p.get("in") == "query" and p.get("schema", {}).get("type") == "integer":
                    url = path.replace("{job_id}", "nosuchjob").replace("{name}", "x").replace("{tool}", "sleeper")
                    r = c.request(method.upper(), url, params={p["name"]: str(10**23)})
                    assert r.status_code < 500, (path, p["name"], r.text)
                    seen += 1
    assert seen >= 3


@pytest.mark.parametrize("auth", [b"Bearer", b"Bearer ", b"bearer", b"Basic dXNlcjpwYXNz", b"Token abc",
                                  b"Bearer tk_\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", b"Bearer \xff\xfe", b"Bearer a b c",
                                  b"Bearer " + b"A" * 5000, b"Bearer tk_abc\x01", b"Bearer tk_../../etc/passwd",
                                  b"BEARER  tk_nope", b"Bearer\ttk_nope"])
def test_authorization_variants_are_401_json(sec_server, auth):
    # sent raw: httpx (rightly) refuses to send some of these
    raw = _raw(sec_server, b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + auth
               + b"\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ")[1]
    if status == b"400":  # the HTTP parser refused the header line itself (a control character)
        return
    assert status == b"401", raw[:500]
    assert b"www-authenticate: Bearer" in head.lower().replace(b"www-authenticate: bearer", b"www-authenticate: Bearer")
    assert json.loads(body)["error"]["code"] == "unauthorized"


def test_monitor_key_only_scrapes(as_):
    m = as_("monitor")
    assert m.get("/metrics").status_code == 200 and m.get("/readyz").status_code in (200, 503)
    for method, path in [("GET", "/v1/jobs"), ("POST", "/v1/search"), ("GET", "/v1/tools")]:
        assert_json_error(m.request(method, path, json={"query": "x"}), 403)
    assert as_(None).get("/healthz").json() == {"status": "ok"}
    for path in ("/readyz", "/metrics"):
        assert_json_error(as_(None).get(path), 401)
        assert_json_error(as_("bob").get(path), 403)
        assert_json_error(as_("bot").get(path), 403)


def _raw(sec_server, request: bytes, read: int = 65536) -> bytes:
    host, port = sec_server["base"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request)
        chunks = []
        while True:
            try:
                b = s.recv(read)
            except (ConnectionResetError, TimeoutError):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def test_huge_and_odd_headers_do_not_hurt_the_server(as_, sec_server):
    c = as_("alice")
    for headers in ({"X-Big": "a" * 200_000}, {f"X-H{i}": "v" for i in range(300)},
                    {"X-Utf8": "привет".encode()}, {"Content-Type": "application/json; charset=\xff".encode("latin-1")}):
        try:
            r = c.get("/v1/tools", headers=headers)
            assert r.status_code < 500, r.text[:300]
        except httpx.HTTPError:
            pass  # the server may drop such a request: what matters is that it still serves
    raw = _raw(sec_server, b"GET /v1/tools HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xc3\x28\r\n\r\n")
    assert raw.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"401")
    assert as_("alice").get("/v1/tools").status_code == 200  # still alive


def test_oversized_bodies_are_413_however_sent(as_, sec_server):
    c = as_("alice")
    big = b'{"message": "' + b"a" * 150_000 + b'"}'
    err = assert_json_error(c.post("/v1/chat", content=big, headers={"content-type": "application/json"}), 413)
    assert err["code"] == "payload_too_large"

    def chunks():  # no Content-Length: chunked transfer encoding
        yield b'{"message": "'
        for _ in range(20):
            yield b"a" * 10_000
        yield b'"}'

    r = c.post("/v1/chat", content=chunks(), headers={"content-type": "application/json"})
    assert_json_error(r, 413)
    r = c.post("/v1/jobs", content=chunks(), headers={"content-type": "application/json"})
    assert_json_error(r, 413)
    # an upload over TUTOR_MAX_UPLOAD_BYTES, chunked as multipart
    def upload():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n" \
              b"Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n"
        for _ in range(60):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    r = c.post("/v1/predict/cnn", content=upload(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert_json_error(r, 413)
    # a small chunked body still works
    def small():
        yield b'{"query": "\xd1\x81\xd0\xb2\xd1\x91\xd1\x80\xd1\x82\xd0\xba\xd0\xb0", '
        yield b'"k": 2}'

    r = c.post("/v1/search", content=small(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    raw = _raw(sec_server, b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}")
    assert raw.split(b"\r\n", 1)[0].split(b" ")[1] == b"400"
    assert as_("alice").get("/v1/tools").status_code == 200
