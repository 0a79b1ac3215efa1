"""The AWS calls the checks share: each one made once per run, in a thread, with short timeouts.

Many checks need the same `DescribeServices` answer; `AwsApi.call` memoises by operation and
arguments, so a run costs one call per distinct question however many checks ask it.
Conditions under which no AWS check can run (no credentials, no endpoint) raise `Skip`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from hokusai_platform.doctor.skip import Skip

# A region-wide question should answer in well under a second; fail fast instead of
# retrying, so the whole doctor run stays within its time budget.
_CONFIG = Config(connect_timeout=2, read_timeout=4, retries={"max_attempts": 1})

ApiError = botocore.exceptions.ClientError
_NOT_PERMITTED = ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException")


class AwsApi:
    def __init__(self, region: str | None) -> None:
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self._calls: dict[str, asyncio.Task[dict[str, Any]]] = {}

    @property
    def region(self) -> str | None:
        return self._session.region_name  # type: ignore[no-any-return]

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session.get_credentials() is None:
                raise Skip("no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID)")
            if self.region is None:
                raise Skip("no AWS region (set AWS_REGION or the environment's aws_region)")
            self._clients[service] = self._session.client(service, config=_CONFIG)
        return self._clients[service]

    async def call(self, service: str, operation: str, **arguments: Any) -> dict[str, Any]:
        """`client.<operation>(**arguments)`, asked at most once per run."""
        key = json.dumps([service, operation, arguments], sort_keys=True, default=str)
        if key not in self._calls:
            method: Callable[..., dict[str, Any]] = getattr(self._client(service), operation)
            self._calls[key] = asyncio.ensure_future(_in_thread(method, arguments))
        return await asyncio.shield(self._calls[key])


async def _in_thread(method: Callable[..., dict[str, Any]], arguments: dict[str, Any]) -> Any:
    try:
        return await asyncio.to_thread(method, **arguments)
    except botocore.exceptions.NoCredentialsError:
        raise Skip("no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID)") from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
    ) as exc:
        raise Skip(f"AWS API not reachable: {exc}") from None
    except ApiError as exc:
        if error_code(exc) in _NOT_PERMITTED:
            raise Skip(f"not permitted: {exc}") from None
        raise


def error_code(exc: Exception) -> str:
    """The AWS error code of a `ClientError` (`ServiceNotFound`, `AccessDenied`, …)."""
    response: dict[str, Any] = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Code", ""))
