"""Issue 22's production rehearsal: the production shape on loopback, under steady load from
the stock MLflow client, survives replacing both registry API replicas, and shares its keys."""

from __future__ import annotations

import json
import urllib.request

import pytest
from sqlalchemy import create_engine, text
from support.mlflow_load import ARTIFACT_BYTES, EXPERIMENT
from support.production import BUCKET, NAMESPACE, s3_client
from support.rehearsal import Rehearsal

from hokusai_platform.keys import database

pytestmark = pytest.mark.slow

# What a client may wait for a key change made through another replica: the key cache's bound.
PROPAGATION_BOUND = 1.0


def test_replacing_both_replicas_under_mlflow_load_fails_no_request(
    rehearsal: Rehearsal, record_property: pytest.RecordProperty
) -> None:
    record_property("requests", rehearsal.balancer.requests)
    record_property("failures", rehearsal.balancer.failures)
    assert rehearsal.exit_codes == [0, 0], "each replaced replica drains and exits 0"
    assert rehearsal.load.failures == [], "the MLflow client saw no failure"
    assert rehearsal.balancer.failures == 0, rehearsal.balancer
    assert rehearsal.balancer.requests > 300, "the load ran throughout"
    assert rehearsal.load.calls["log_batch"] > 20 and rehearsal.load.calls["get_run"] > 20


def test_every_64_mib_artifact_comes_back_with_its_sha256(rehearsal: Rehearsal) -> None:
    assert rehearsal.load.mismatches == 0
    assert rehearsal.load.artifacts >= 2, "artifacts moved while the replicas were replaced"
    assert rehearsal.load.artifact_bytes_verified == rehearsal.load.artifacts * ARTIFACT_BYTES


def test_both_replicas_find_mlflow_by_its_name_in_discovery(rehearsal: Rehearsal) -> None:
    for replica in rehearsal.shape.replicas:
        with urllib.request.urlopen(f"{replica.url}/health", timeout=10) as answer:
            discovery = json.load(answer)["dependencies"]["mlflow"]["discovery"]
        assert discovery["target"] == f"mlflow.{NAMESPACE}"
        assert discovery["fallback_active"] is False
        assert {endpoint["source"] for endpoint in discovery["endpoints"]} == {"dns"}


def test_mlflow_keeps_runs_in_postgresql_and_artifacts_in_s3(rehearsal: Rehearsal) -> None:
    engine = create_engine(database.normalise_url(rehearsal.shape.mlflow_store_url))
    with engine.connect() as connection:
        runs = connection.execute(
            text(
                "SELECT count(*) FROM runs JOIN experiments USING (experiment_id)"
                " WHERE experiments.name = :name"
            ),
            {"name": EXPERIMENT},
        ).scalar_one()
    engine.dispose()
    assert runs >= rehearsal.load.calls["create_run"]
    listed = s3_client(rehearsal.shape.s3_url).list_objects_v2(Bucket=BUCKET)["Contents"]
    artifacts = [item for item in listed if item["Key"].endswith("/model.bin")]
    assert len(artifacts) >= rehearsal.load.artifacts
    assert {item["Size"] for item in artifacts} == {ARTIFACT_BYTES}


def test_a_key_created_on_replica_a_works_on_replica_b_within_a_second(
    rehearsal: Rehearsal,
) -> None:
    assert rehearsal.propagation.created_on_a_works_on_b <= PROPAGATION_BOUND


def test_a_key_revoked_on_replica_b_is_refused_by_replica_a_within_a_second(
    rehearsal: Rehearsal,
) -> None:
    assert rehearsal.propagation.revoked_on_b_refused_by_a <= PROPAGATION_BOUND
