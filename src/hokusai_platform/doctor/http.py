"""HTTP layer: what a client sees at the registry URL (`/health`, `/api/mlflow/version`)."""

from __future__ import annotations

import json

import aiohttp

from hokusai_platform.checks import CheckResult
from hokusai_platform.doctor.context import Context

# Enough of a body to quote it as evidence; the gateway's /health report is a few KiB at most.
MAX_BODY = 64 * 1024


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
    """`/health`: healthy is ok; degraded (a fallback or stale answers in use) warns."""
    assert context.url is not None
    url = f"{context.url}/health"
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
    reasons = _degraded_reasons(report)
    if status == 200 and state == "healthy":
        return [CheckResult.ok("http.health", url, f"healthy{_mlflow_summary(report)}")]
    if status == 200 and state == "degraded":
        return [
            CheckResult.warn(
                "http.health",
                url,
                "degraded: " + ("; ".join(reasons) or "no reason given"),
                hint="traffic flows through a fallback route: restore service discovery "
                "(dns and aws layers say which part is missing)",
            )
        ]
    message = str(report.get("message") or "; ".join(reasons) or f"status {state}")
    return [
        CheckResult.fail(
            "http.health",
            url,
            f"HTTP {status}, {state}: {message}",
            hint="the API cannot reach MLflow by any route: see the dns and aws layers",
        )
    ]


def _mlflow_summary(report: dict[str, object]) -> str:
    dependencies = report.get("dependencies")
    mlflow = dependencies.get("mlflow") if isinstance(dependencies, dict) else None
    if not isinstance(mlflow, dict):
        return ""
    parts = [f"MLflow {mlflow['version']}" if mlflow.get("version") else "MLflow"]
    if mlflow.get("endpoint"):
        parts.append(f"at {mlflow['endpoint']}")
    if mlflow.get("latency_ms") is not None:
        parts.append(f"in {mlflow['latency_ms']} ms")
    return ", " + " ".join(parts)


def _degraded_reasons(report: dict[str, object]) -> list[str]:
    """Every reason the report gives, wherever the gateway put it (top level or per dependency)."""
    reasons: list[str] = []
    sources: list[object] = [report]
    dependencies = report.get("dependencies")
    if isinstance(dependencies, dict):
        sources.extend(dependencies.values())
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key in ("reason", "reasons", "degraded_reason"):
            value = source.get(key)
            if isinstance(value, str) and value:
                reasons.append(value)
            elif isinstance(value, list):
                reasons.extend(str(item) for item in value if item)
    return reasons


async def mlflow_version(context: Context) -> list[CheckResult]:
    """`/api/mlflow/version` answers through the gateway without a key, as on MLflow itself."""
    assert context.url is not None
    url = f"{context.url}/api/mlflow/version"
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
