"""`hokusai infra lint`: the committed tree passes; each rule catches a fixture that breaks it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from support.terraform import TREE, copy_tree, hokusai

from hokusai_platform.infra import hcl, lint, plan
from hokusai_platform.infra import production_rules as production

# Each fixture breaks exactly one rule, at this line.
VIOLATIONS = {
    "unregistered-service": (lint.REGISTRIES, "main.tf:2"),
    "no-grace-period": (lint.GRACE_PERIOD, "main.tf:1"),
    "long-ttl": (lint.DISCOVERY_TTL, "main.tf:9"),
    "ip-literal": (lint.ENDPOINT_IP, "main.tf:9"),
    "undeclared-parameter": (lint.SSM_DECLARED, "main.tf:14"),
    "unlocked-backend": (lint.BACKEND_LOCKING, "main.tf:2"),
    "sqlite-keys": (production.KEY_STORE, "main.tf:4"),
    "no-circuit-breaker": (production.CIRCUIT_BREAKER, "main.tf:1"),
    "short-stop-timeout": (production.STOP_TIMEOUT, "main.tf:15"),
    "short-deregistration-delay": (production.DEREGISTRATION_DELAY, "main.tf:7"),
    "alb-without-access-logs": (production.ACCESS_LOGS, "main.tf:6"),
    "public-metrics": (production.METRICS_PORT, "main.tf:16"),
    "any-host": (production.ALLOWED_HOSTS, "main.tf:4"),
    "audit-log-file": (production.AUDIT_LOG, "main.tf:9"),
}


def test_the_committed_tree_is_clean() -> None:
    results = lint.lint(hcl.load(TREE), date.today())

    assert {r.status for r in results} == {"ok"}
    assert {r.id for r in results} == {
        lint.REGISTRIES,
        lint.GRACE_PERIOD,
        lint.DISCOVERY_TTL,
        lint.ENDPOINT_IP,
        lint.PINNED,
        lint.SSM_DECLARED,
        lint.BACKEND_LOCKING,
        production.KEY_STORE,
        production.CIRCUIT_BREAKER,
        production.STOP_TIMEOUT,
        production.DEREGISTRATION_DELAY,
        production.ACCESS_LOGS,
        production.METRICS_PORT,
        production.ALLOWED_HOSTS,
        production.AUDIT_LOG,
    }


def test_the_command_exits_0_on_the_committed_tree() -> None:
    linted = hokusai("infra", "lint", str(TREE))

    assert linted.exit_code == 0, linted.stdout
    assert linted.stdout.rstrip().endswith("15 ok")


@pytest.mark.parametrize("fixture", sorted(VIOLATIONS))
def test_each_rule_fails_its_fixture_at_the_line(fixtures: Path, fixture: str) -> None:
    rule, line = VIOLATIONS[fixture]

    results = lint.lint(hcl.load(fixtures / fixture), date.today())

    [finding] = [r for r in results if r.status != "ok"]
    assert (finding.id, finding.status) == (rule, "fail")
    assert finding.subject == f"{fixtures / fixture / line}"
    assert finding.hint


def test_ip_literal_names_the_variable_and_spares_listen_addresses(fixtures: Path) -> None:
    [finding] = lint.endpoint_ip_literals(hcl.load(fixtures / "ip-literal"))

    assert "MLFLOW_SERVER_URL hard-codes 10.0.1.88" in finding.evidence
    assert "HOKUSAI_HOST" not in finding.evidence


def test_a_pin_is_a_warning_with_its_age_and_reason(fixtures: Path) -> None:
    [finding] = lint.pinned(hcl.load(fixtures / "pinned"), today=date(2026, 1, 8))

    assert finding.status == "warn"
    assert finding.subject == f"{fixtures / 'pinned' / 'terraform.tfvars'}:4"
    assert finding.evidence == (
        "mlflow pinned to http://10.0.1.88:5000 for 3 day(s) (since 2026-01-05): "
        "Cloud Map lost the API's registration"
    )
    assert "hokusai endpoint unpin mlflow --env pinned" in finding.hint
    # The pinned IP is reported once, as the pin, not again as a hard-coded endpoint.
    assert lint.endpoint_ip_literals(hcl.load(fixtures / "pinned"))[0].status == "ok"


def test_findings_exit_1_with_file_line_and_fix(fixtures: Path) -> None:
    linted = hokusai("infra", "lint", str(fixtures / "unregistered-service"))

    assert linted.exit_code == 1
    assert "FAIL  ecs.service-registries" in linted.stdout
    assert "unregistered-service/main.tf:2" in linted.stdout
    assert "fix: add `service_registries" in linted.stdout


def test_json_output_carries_every_result(fixtures: Path) -> None:
    linted = hokusai("infra", "lint", "--json", str(fixtures / "long-ttl"))

    document = json.loads(linted.stdout)
    assert linted.exit_code == 1
    assert document["summary"]["fail"] == 1
    assert {r["id"] for r in document["results"]} >= {lint.DISCOVERY_TTL, lint.REGISTRIES}


def _service_change(actions: list[str], before: object, after: object) -> dict[str, object]:
    return {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_ecs_service.api",
                "type": "aws_ecs_service",
                "change": {"actions": actions, "before": before, "after": after},
            }
        ],
    }


REGISTERED = {"name": "hokusai-api-development", "service_registries": [{"registry_arn": "srv"}]}
UNREGISTERED = {"name": "hokusai-api-development", "service_registries": []}


@pytest.mark.parametrize(
    ("actions", "before", "after", "evidence"),
    [
        (["create"], None, UNREGISTERED, "would be created without service registries"),
        (["update"], REGISTERED, UNREGISTERED, "would lose its service registries"),
        (["delete", "create"], REGISTERED, UNREGISTERED, "would be created without"),
    ],
)
def test_a_plan_that_leaves_a_service_unregistered_fails_naming_it(
    actions: list[str], before: object, after: object, evidence: str
) -> None:
    [finding] = plan.check(_service_change(actions, before, after), "plan.json")

    assert finding.status == "fail"
    assert finding.evidence.startswith("hokusai-api-development (aws_ecs_service.api)")
    assert evidence in finding.evidence


def test_a_plan_that_registers_services_passes() -> None:
    [result] = plan.check(_service_change(["create"], None, REGISTERED), "plan.json")

    assert result.status == "ok"


@pytest.mark.parametrize(
    ("arguments", "content", "message"),
    [
        (["--plan", "{plan}"], "not json", "not readable JSON"),
        (["--plan", "{plan}"], '{"resource_changes": []}', "not a Terraform plan"),
        (["{tf}"], 'resource "x" {', "not valid HCL"),
    ],
)
def test_bad_input_is_a_one_line_usage_error(
    tmp_path: Path, arguments: list[str], content: str, message: str
) -> None:
    (tmp_path / "plan.json").write_text(content)
    (tmp_path / "broken.tf").write_text(content)
    args = [a.format(plan=tmp_path / "plan.json", tf=tmp_path / "broken.tf") for a in arguments]

    linted = hokusai("infra", "lint", *(args if args[0] != "--plan" else [str(TREE), *args]))

    assert linted.exit_code == 2
    assert message in linted.stderr
    assert len(linted.stderr.strip().splitlines()) == 1
    assert isinstance(linted.exception, SystemExit)  # not a crash


def test_an_environments_backend_file_configures_the_one_root(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path / "terraform")
    backend = tree / "environments" / "staging" / "backend.hcl"
    backend.write_text(backend.read_text().replace("use_lockfile = true\n", ""))

    results = lint.lint(hcl.load(tree), date.today())

    [unlocked] = [r for r in results if r.status != "ok"]
    assert unlocked.id == lint.BACKEND_LOCKING
    assert unlocked.evidence.startswith("environments/staging/backend.hcl sets no use_lockfile")
