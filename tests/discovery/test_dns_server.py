"""`hokusai discovery serve` as a real process: Cloud Map's DNS answers, managed by the CLI."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from support.discovery import NAME, NAMESPACE, Discovery
from support.processes import executable


@pytest.fixture
def discovery(discovery_server: Discovery) -> Discovery:
    """The module's server, emptied before each test."""
    base = discovery_server.control_url
    with urllib.request.urlopen(f"{base}/v1/services") as answer:
        services = json.load(answer)["services"]
    for service in services:
        for instance in service["instances"]:
            path = f"/v1/services/{service['name']}/instances/{instance['instance_id']}"
            urllib.request.urlopen(urllib.request.Request(base + path, method="DELETE")).close()
    return discovery_server


def addresses(answer: dns.message.Message) -> set[str]:
    return {record.address for rrset in answer.answer for record in rrset}


def test_multivalue_answers_carry_up_to_8_healthy_records_and_the_service_ttl(
    discovery: Discovery,
) -> None:
    for last in range(1, 10):
        discovery.register(f"10.0.1.{last}")
    registered = discovery.hokusai("register", "mlflow", "10.0.1.10:5000", "--ttl", "7")
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "registered mlflow/10-0-1-10-5000 at 10.0.1.10:5000"
    answer = discovery.query(NAME, "A")
    assert answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA
    assert len(addresses(answer)) == 8
    assert answer.answer[0].ttl == 7
    # Over TCP too, with the same semantics.
    assert len(addresses(discovery.query(NAME, "A", tcp=True))) == 8


def test_unhealthy_instances_are_left_out_until_all_are_unhealthy_then_fail_open(
    discovery: Discovery,
) -> None:
    for last in (1, 2, 3):
        discovery.register(f"10.0.1.{last}")
    marked = discovery.hokusai("set-health", "mlflow", "10.0.1.1:5000", "unhealthy")
    assert marked.stdout.strip() == "mlflow/10-0-1-1-5000 is UNHEALTHY"
    assert addresses(discovery.query(NAME, "A")) == {"10.0.1.2", "10.0.1.3"}
    for last in (2, 3):
        path = f"/v1/services/mlflow/instances/10-0-1-{last}-5000/health"
        discovery.api("PUT", path, {"status": "UNHEALTHY"})
    assert addresses(discovery.query(NAME, "A")) == {"10.0.1.1", "10.0.1.2", "10.0.1.3"}


def test_a_name_without_instances_is_nxdomain_with_a_short_soa_minimum(
    discovery: Discovery,
) -> None:
    discovery.register("10.0.1.1")
    gone = discovery.hokusai("deregister", "mlflow", "10.0.1.1:5000")
    assert gone.returncode == 0 and gone.stdout.strip() == "deregistered mlflow/10-0-1-1-5000"
    for name in (NAME, f"redis.{NAMESPACE}"):
        answer = discovery.query(name, "A")
        assert answer.rcode() == dns.rcode.NXDOMAIN
        (soa,) = answer.authority
        assert soa.rdtype == dns.rdatatype.SOA and soa[0].minimum <= 5 and soa.ttl <= 5
    assert discovery.query("mlflow.example.com", "A").rcode() == dns.rcode.REFUSED


def test_srv_answers_name_each_instance_with_its_port_and_address(discovery: Discovery) -> None:
    discovery.register("10.0.1.1", 5000, instance_id="task-1")
    discovery.register("10.0.1.2", 5001, instance_id="task-2")
    answer = discovery.query(NAME, "SRV")
    records = {(r.port, r.target.to_text()) for rrset in answer.answer for r in rrset}
    assert records == {(5000, f"task-1.{NAME}."), (5001, f"task-2.{NAME}.")}
    glue = {rrset.name.to_text(): rrset[0].address for rrset in answer.additional}
    assert glue == {f"task-1.{NAME}.": "10.0.1.1", f"task-2.{NAME}.": "10.0.1.2"}
    assert addresses(discovery.query(f"task-2.{NAME}", "A")) == {"10.0.1.2"}
    nodata = discovery.query(NAME, "AAAA")  # the name exists, not with this type
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer


def test_list_shows_every_instance_and_its_health(discovery: Discovery) -> None:
    discovery.hokusai("register", "redis", "10.0.1.1:6379", "--instance-id", "r1", "--ttl", "30")
    discovery.hokusai("set-health", "redis", "r1", "UNHEALTHY")
    listed = discovery.hokusai("list")
    assert listed.returncode == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "INSTANCE", "ADDRESS", "HEALTH", "TTL"]
    assert [row.split() for row in rows] == [
        [f"redis.{NAMESPACE}", "r1", "10.0.1.1:6379", "unhealthy", "30"]
    ]
    registry = json.loads(discovery.hokusai("list", "--json").stdout)
    redis = next(service for service in registry["services"] if service["name"] == "redis")
    assert redis["instances"] == [
        {"instance_id": "r1", "address": "10.0.1.1", "port": 6379, "healthy": False}
    ]


def test_cli_errors_are_one_line_and_fail(discovery: Discovery) -> None:
    unknown = discovery.hokusai("deregister", "api", "task-9")
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "Error: no service 'api' in hokusai-development.local"
    bad_address = discovery.hokusai("register", "mlflow", "mlflow:5000")
    assert bad_address.returncode != 0 and "not an IPv4 address" in bad_address.stderr
    assert len(bad_address.stderr.strip().splitlines()) == 1
    down = subprocess.run(
        [executable("hokusai"), "discovery", "list", "--control-url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
    )
    assert down.returncode != 0 and "Traceback" not in down.stderr
    assert "is `hokusai discovery serve` running?" in down.stderr


def test_control_api_errors_are_json_in_mlflows_shape(discovery: Discovery) -> None:
    def post(body: bytes) -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(
            f"{discovery.control_url}/v1/services/mlflow/instances", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    assert post(b"{not json") == (
        400,
        {"error_code": "INVALID_PARAMETER_VALUE", "message": "the body must be a JSON object"},
    )
    status, error = post(json.dumps({"address": "10.0.1.1", "port": 70000}).encode())
    assert status == 400 and error["message"] == "70000 is not a TCP port (1-65535)"
    status, error = post(b"x" * (128 * 1024))
    assert status == 413 and error["error_code"] == "REQUEST_TOO_LARGE"


def test_serve_refuses_a_non_loopback_address() -> None:
    refused = subprocess.run(
        [executable("hokusai"), "discovery", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "'0.0.0.0' is not a loopback address" in refused.stderr
