"""Prometheus metrics: requests, latencies, chat tokens; jobs by state are read from the
database at scrape time."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request

REGISTRY = CollectorRegistry()
REQUESTS = Counter("tutor_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("tutor_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
TOKENS = Counter("tutor_chat_tokens_total", "Answer tokens streamed to clients", registry=REGISTRY)
TURNS = Counter("tutor_chat_turns_total", "Chat turns by intent", ["intent"], registry=REGISTRY)
JOBS = Gauge("tutor_jobs", "Jobs by state", ["state"], registry=REGISTRY)


class MetricsMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", None) or ("/ui" if not request.url.path.startswith("/v1") else "unmatched")
            REQUESTS.labels(request.method, path, str(status)).inc()
            LATENCY.labels(request.method, path).observe(time.perf_counter() - t0)


def render(job_counts: dict[str, int]) -> bytes:
    for state in ("queued", "running", "succeeded", "failed", "cancelled"):
        JOBS.labels(state).set(job_counts.get(state, 0))
    return generate_latest(REGISTRY)
