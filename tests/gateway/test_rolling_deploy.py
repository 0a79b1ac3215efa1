"""A rolling replacement of both replicas behind HAProxy, under steady load, drops nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.echo_upstream import EchoUpstream
from support.replicas import DRAIN_SECONDS
from support.rolling import rolling_replacement


@pytest.mark.slow
def test_replacing_both_replicas_under_load_fails_no_request(
    echo: EchoUpstream, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    tally = rolling_replacement(tmp_path, echo.url, DRAIN_SECONDS)
    record_property("requests", tally.requests)
    record_property("failures", tally.failures)
    print(f"rolling replacement: {tally.requests} requests, {tally.failures} failed")
    assert tally.exit_codes == [0, 0], "each replaced replica exits 0"
    assert tally.requests > 100, "the load ran throughout"
    assert tally.failures == 0, dict(tally.outcomes)
