"""`hokusai doctor` as a user runs it: a real process against moto_server, discovery DNS, gateway.

The acceptance scenarios of the outage: green when the environment is as Terraform declares
it, and a named fault with its fix for each way the outage happened.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.aws import DEVELOPMENT, MotoEnvironment
from support.processes import Server, executable, free_port, wait_for_http

from hokusai_platform.discovery.local.control import call


def doctor(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("hokusai"), "doctor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report(*args: str) -> tuple[int, dict[str, Any]]:
    ran = doctor(*args, "--json")
    assert not ran.stderr, ran.stderr
    return ran.returncode, json.loads(ran.stdout)


def results(*args: str) -> tuple[int, list[dict[str, Any]]]:
    code, document = report(*args)
    return code, document["results"]


def status_of(found: list[dict[str, Any]], check_id: str, subject: str) -> str:
    [match] = [r for r in found if r["id"] == check_id and r["subject"] == subject]
    return str(match["status"])


@dataclass
class Discovery:
    """`hokusai discovery serve`: Cloud Map's DNS answers for the namespace, on loopback."""

    dns_port: int
    control_url: str

    def register(self, service: str, address: str, port: int) -> None:
        body = {"address": address, "port": port}
        call(self.control_url, "POST", f"/v1/services/{service}/instances", body)

    def deregister_all(self, service: str) -> None:
        for found in call(self.control_url, "GET", "/v1/services")["services"]:
            if found["name"] == service:
                for instance in found["instances"]:
                    path = f"/v1/services/{service}/instances/{instance['instance_id']}"
                    call(self.control_url, "DELETE", path)


@pytest.fixture
def discovery(moto_environment: MotoEnvironment, tmp_path: Path) -> Iterator[Discovery]:
    """Serving the same instances moto's Cloud Map holds, as ECS would have registered them."""
    dns_port, control_port = free_port(), free_port()
    server = Server(
        argv=[
            executable("hokusai"),
            "discovery",
            "serve",
            "--namespace",
            moto_environment.expectations.namespace,
            "--dns-port",
            str(dns_port),
            "--control-port",
            str(control_port),
        ],
        log=tmp_path / "discovery.log",
    ).start()
    control_url = f"http://127.0.0.1:{control_port}"
    wait_for_http(f"{control_url}/v1/services", timeout=30, process=server.process, log=server.log)
    served = Discovery(dns_port, control_url)
    for expected in moto_environment.expectations.services:
        for address in moto_environment.addresses(expected.name):
            served.register(expected.name, address, expected.port)
    yield served
    server.stop()


def test_an_environment_as_declared_is_green_within_ten_seconds(
    moto_environment: MotoEnvironment, discovery: Discovery, gateway_url: str
) -> None:
    code, document = report(
        "--env=development",
        f"--region={moto_environment.region}",
        f"--url={gateway_url}",
        f"--dns-server=127.0.0.1:{discovery.dns_port}",
    )
    found = document["results"]

    assert [(r["id"], r["subject"]) for r in found if r["status"] not in ("ok", "skipped")] == []
    assert code == 0
    assert {r["id"].split(".")[0] for r in found if r["status"] == "ok"} == {
        "http",
        "dns",
        "aws",
        "logs",
    }
    [terraform] = [r for r in found if r["id"] == "terraform.drift"]
    assert terraform["status"] == "skipped"
    assert "not initialised" in terraform["evidence"]
    # The checks' own time; the process also spends ~2 s importing the CLI on this machine.
    assert document["elapsed_seconds"] < 10
    layers = document["layer_seconds"]
    assert list(layers) == ["http", "dns", "aws", "logs", "terraform"]
    assert all(0 <= seconds <= document["elapsed_seconds"] for seconds in layers.values())


def test_outage_replay_api_recreated_without_registries(
    moto_environment: MotoEnvironment,
) -> None:
    moto_environment.recreate_without_registries("api")

    ran = doctor("--env=development", f"--region={moto_environment.region}", "--only=aws,logs")

    assert ran.returncode == 2
    lines = ran.stdout.splitlines()
    [failure] = [line for line in lines if "aws.ecs.service-registries" in line and "FAIL" in line]
    assert "hokusai-api-development" in failure
    assert "serviceRegistries is empty" in failure
    fix = lines[lines.index(failure) + 1]
    assert "terraform apply" in fix
    assert "do not recreate" in fix
    assert "created outside Terraform" in ran.stdout
    assert ran.stdout.rstrip().splitlines()[-1].startswith("1 failed, 1 warning")


def test_outage_replay_mlflow_deregistered(
    moto_environment: MotoEnvironment, discovery: Discovery
) -> None:
    moto_environment.deregister_all("mlflow")
    discovery.deregister_all("mlflow")

    code, found = results(
        "--env=development",
        f"--region={moto_environment.region}",
        f"--dns-server=127.0.0.1:{discovery.dns_port}",
        "--only=dns,aws",
    )

    assert code == 2
    name = "mlflow.hokusai-development.local"
    assert status_of(found, "dns.resolve", name) == "fail"
    assert status_of(found, "aws.cloudmap.instances", name) == "fail"
    assert status_of(found, "dns.resolve", "api.hokusai-development.local") == "ok"


def test_outage_replay_a_pinned_fallback_warns_with_its_age(
    moto_environment: MotoEnvironment, tmp_path: Path
) -> None:
    root = tmp_path / "terraform"
    shutil.copytree(DEVELOPMENT.root, root, ignore=shutil.ignore_patterns(".terraform"))
    reason = "--reason=Cloud Map lost the API"
    pinned = subprocess.run(
        [
            executable("hokusai"),
            "endpoint",
            "pin",
            "mlflow",
            "http://10.0.1.88:5000",
            reason,
            "--env=development",
            f"--terraform-root={root}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "terraform" in pinned.stdout, pinned.stdout
    # What that `terraform apply` does to the running task definition:
    expected = moto_environment.service("api")
    arn = moto_environment.register_task_definition(
        expected, {"MLFLOW_FALLBACK_URLS": "http://10.0.1.88:5000"}
    )
    moto_environment.client("ecs").update_service(
        cluster=moto_environment.cluster, service=expected.ecs_service, taskDefinition=arn
    )

    code, found = results(
        "--env=development",
        f"--terraform-root={root}",
        f"--region={moto_environment.region}",
        "--only=aws",
    )

    assert code == 1
    [pin] = [r for r in found if r["status"] == "warn"]
    assert pin["id"] == "aws.taskdef.endpoints"
    assert pin["subject"] == "hokusai-api-development"
    assert "pinned" in pin["evidence"]
    assert f"pinned 0 day(s) ago ({datetime.date.today()})" in pin["evidence"]
    assert "Cloud Map lost the API" in pin["evidence"]


def test_only_selects_layers(moto_environment: MotoEnvironment) -> None:
    code, found = results("--env=development", f"--region={moto_environment.region}", "--only=aws")

    assert code == 0
    assert {r["id"].split(".")[0] for r in found} == {"aws"}


def test_watch_prints_only_what_changed_and_ctrl_c_exits_cleanly(
    moto_environment: MotoEnvironment, tmp_path: Path
) -> None:
    output = tmp_path / "watch.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [
                executable("hokusai"),
                "doctor",
                "--env=development",
                f"--region={moto_environment.region}",
                "--only=aws",
                "--watch=1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_until(lambda: re.search(r"^\d+ ok in ", output.read_text(), re.MULTILINE) is not None)
        first = output.read_text()
        moto_environment.deregister_all("mlflow")
        wait_until(lambda: "-> fail" in output.read_text())
        time.sleep(2.5)  # two more runs: nothing new changed, so nothing more is printed
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(30)

    changes = output.read_text()[len(first) :].strip().splitlines()
    assert code == 0
    assert len(changes) == 1
    assert "aws.cloudmap.instances mlflow.hokusai-development.local: ok -> fail" in changes[0]
    assert "Traceback" not in output.read_text()


def wait_until(condition: Any, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.1)


def test_bad_input_is_one_line_and_non_zero() -> None:
    unknown = doctor("--env=nowhere")
    neither = doctor()
    layer = doctor("--env=development", "--only=http,ftp")

    assert unknown.returncode != 0
    assert "no environment 'nowhere'" in unknown.stderr
    assert "have: development, production, staging" in unknown.stderr
    assert neither.returncode != 0
    assert "give either --env ENV or --local" in neither.stderr
    assert "unknown layer ftp" in layer.stderr
    for ran in (unknown, neither, layer):
        assert "Traceback" not in ran.stderr
