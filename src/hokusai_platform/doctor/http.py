"""HTTP layer: what a client sees at the registry URL (`/health`, `/api/mlflow/version`)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context
from hokusai_platform.doctor.humanize import duration
from hokusai_platform.doctor.skip import Skip

# Enough of a body to quote it as evidence; the gateway's /health report is a few KiB at most.
MAX_BODY = 64 * 1024


def _base_url(context: Context) -> str:
    if context.url is None:
        raise Skip("no registry URL: pass --url, or set registry_host in the environment")
    return context.url.rstrip("/")


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url, allow_redirects=False) as answer:
        body = await answer.content.read(MAX_BODY)
        return answer.status, body.decode(errors="replace")


def _unreachable(check_id: str, url: str, exc: aiohttp.ClientError) -> CheckResult:
    return CheckResult.fail(
        check_id,
        url,
        f"no answer: {exc}",
        hint="check the load balancer listener and the API service's tasks (aws layer)",
    )


async def health(context: Context) -> list[CheckResult]:
    """`/health`: healthy is ok; degraded (fallback, stale answers, no Redis) warns."""
    url = f"{_base_url(context)}/health"
    try:
        status, body = await _get(context.http, url)
    except aiohttp.ClientError as exc:
        return [_unreachable("http.health", url, exc)]
    try:
        report = json.loads(body)
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):
        return [
            CheckResult.fail(
                "http.health",
                url,
                f"HTTP {status}, not a JSON health report: {body[:200]!r}",
                hint="the URL does not reach the registry API; check the ALB listener rules",
            )
        ]
    state = str(report.get("status", "missing"))
    mlflow = _dependency(report, "mlflow")
    if status == 200 and state == "healthy":
        return [CheckResult.ok("http.health", url, f"healthy, {_mlflow_summary(mlflow)}")]
    if status == 200 and state == "degraded":
        return [
            CheckResult.warn(
                "http.health",
                url,
                "degraded: " + "; ".join(_degraded_reasons(report)),
                hint="traffic flows, but not the way it should: restore service discovery "
                "(the dns and aws layers name what is missing), then unpin any fallback",
            )
        ]
    message = report.get("message") or f"status {state}"
    return [
        CheckResult.fail(
            "http.health",
            url,
            f"HTTP {status}, {state}: {message}",
            hint="the API cannot reach MLflow by any route: see the dns and aws layers",
        )
    ]


def _dependency(report: dict[str, Any], name: str) -> dict[str, Any]:
    dependencies = report.get("dependencies")
    found = dependencies.get(name) if isinstance(dependencies, dict) else None
    return found if isinstance(found, dict) else {}


def _mlflow_summary(mlflow: dict[str, Any]) -> str:
    summary = f"MLflow {mlflow.get('version') or '(version unknown)'}"
    endpoints = mlflow.get("discovery", {}).get("endpoints", [])
    in_use = [e for e in endpoints if isinstance(e, dict) and e.get("in_use")]
    if in_use:
        routes = ", ".join(f"{e.get('address')} ({e.get('source')})" for e in in_use)
        summary += f" via {routes}"
    elif mlflow.get("endpoint"):
        summary += f" at {mlflow['endpoint']}"
    if mlflow.get("latency_ms") is not None:
        summary += f" in {mlflow['latency_ms']} ms"
    return summary


def _degraded_reasons(report: dict[str, Any]) -> list[str]:
    """Why the gateway says degraded, with since when: discovery's reason, Redis."""
    reasons = []
    if report.get("reason"):
        reason = str(report["reason"])
        if isinstance(report.get("since"), int | float):
            reason += f" (for {duration(time.time() - report['since'])})"
        reasons.append(reason)
    discovery = _dependency(report, "mlflow").get("discovery", {})
    if discovery.get("fallback_active"):
        fallbacks = [
            str(e.get("address"))
            for e in discovery.get("endpoints", [])
            if isinstance(e, dict) and e.get("source") == "fallback" and e.get("in_use")
        ]
        if fallbacks:
            reasons.append(f"pinned fallback in use: {', '.join(fallbacks)}")
    redis = _dependency(report, "redis")
    if redis.get("status") == "unhealthy":
        reasons.append(f"Redis unhealthy ({redis.get('last_error')}): rate limits not enforced")
    return reasons or ["no reason given"]


async def mlflow_version(context: Context) -> list[CheckResult]:
    """`/api/mlflow/version` answers through the gateway without a key, as on MLflow itself."""
    url = f"{_base_url(context)}/api/mlflow/version"
    try:
        status, body = await _get(context.http, url)
    except aiohttp.ClientError as exc:
        return [_unreachable("http.mlflow-version", url, exc)]
    text = body.strip()
    if status == 200 and text and len(text) < 64 and text[0].isdigit():
        return [CheckResult.ok("http.mlflow-version", url, f"MLflow {text}")]
    return [
        CheckResult.fail(
            "http.mlflow-version",
            url,
            f"HTTP {status}: {text[:200]!r}",
            hint="the proxy cannot reach MLflow: see /health and the dns layer",
        )
    ]
