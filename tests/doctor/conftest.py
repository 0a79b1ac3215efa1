"""Fixtures for doctor's tests: expectations, and an AWS environment in moto_server.

Every test gets its own region, so tests sharing the session's moto_server never see each
other's clusters, namespaces or services.
"""

from __future__ import annotations

import boto3
import pytest
from support.aws import DEVELOPMENT, MotoEnvironment

from hokusai_platform.infra import expectations as declared
from hokusai_platform.infra.expectations import Expectations

# From the front of the list, one per test: us-east-1 (aws_env's default) and us-west-2 (where
# tests/infra applies development) come last and stay free.
_REGIONS = iter(boto3.session.Session().get_available_regions("ecs")[:28])


@pytest.fixture
def region(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    name = next(_REGIONS)
    monkeypatch.setenv("AWS_DEFAULT_REGION", name)
    monkeypatch.setenv("AWS_REGION", name)
    return name


@pytest.fixture
def expectations() -> Expectations:
    """What `development` declares, read from the Terraform root as `hokusai doctor` reads it."""
    return declared.load(DEVELOPMENT)


@pytest.fixture
def moto_environment(expectations: Expectations, region: str) -> MotoEnvironment:
    return MotoEnvironment(expectations, region).create()
