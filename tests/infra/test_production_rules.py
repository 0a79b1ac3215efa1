"""The production rules' cases beyond their fixtures (test_lint.py): each variant of a gateway
container, written as a module call, is judged by the rule it concerns and only by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hokusai_platform.checks import CheckResult
from hokusai_platform.infra import hcl
from hokusai_platform.infra import production_rules as production

GATEWAY = {
    "MLFLOW_SERVER_URL": '"http://mlflow.hokusai-production.local:5000"',
    "HOKUSAI_ALLOWED_HOSTS": '"registry.hokus.ai"',
    "HOKUSAI_METRICS_PORT": '"9464"',
    "HOKUSAI_DRAIN_SECONDS": "var.drain_seconds",
}
KEYS_LIST = '["hokusai", "keys", "list"]'


def module_call(
    environment: dict[str, str],
    secrets: str = "{ HOKUSAI_DATABASE_URL = var.database_url_arn }",
    extra: str = "stop_timeout = local.stop_timeout",
) -> str:
    variables = "\n".join(f"    {name} = {value}" for name, value in environment.items())
    return f"""
module "api" {{
  source                = "./ecs-service"
  environment_variables = {{
{variables}
  }}
  secrets = {secrets}
  {extra}
}}

locals {{
  stop_timeout = var.drain_seconds + 30
}}

variable "drain_seconds" {{
  default = 15
}}

variable "database_url_arn" {{
  type = string
}}
"""


def judged(tmp_path: Path, text: str) -> list[CheckResult]:
    (tmp_path / "main.tf").write_text(text)
    configuration = hcl.load(tmp_path)
    return [result for rule in production.RULES for result in rule(configuration)]


def test_the_module_call_form_of_a_gateway_passes_every_rule(tmp_path: Path) -> None:
    results = judged(tmp_path, module_call(GATEWAY))

    assert [(r.id, r.evidence) for r in results if r.status != "ok"] == []


@pytest.mark.parametrize(
    ("text", "rule", "status", "evidence"),
    [
        (
            module_call({**GATEWAY, "HOKUSAI_DATABASE_URL": '"postgresql://u:p@db/keys"'}, "{}"),
            production.KEY_STORE,
            "fail",
            "HOKUSAI_DATABASE_URL is plain environment",
        ),
        (
            module_call({"HOKUSAI_HOST": '"0.0.0.0"'}, "{}", f"command = {KEYS_LIST}"),
            production.KEY_STORE,
            "fail",
            "no HOKUSAI_DATABASE_URL",
        ),
        (
            module_call({k: v for k, v in GATEWAY.items() if k != "HOKUSAI_METRICS_PORT"}),
            production.METRICS_PORT,
            "fail",
            "no HOKUSAI_METRICS_PORT",
        ),
        (
            module_call(GATEWAY, extra="stop_timeout = max(var.drain_seconds, 45)"),
            production.STOP_TIMEOUT,
            "warn",
            "not a static value",
        ),
        (
            module_call(GATEWAY, extra="stop_timeout = 200"),
            production.STOP_TIMEOUT,
            "fail",
            "stopTimeout 200s is not between",
        ),
        (
            module_call({**GATEWAY, "HOKUSAI_DRAIN_TIMEOUT": '"30"'}, extra=""),
            production.STOP_TIMEOUT,
            "fail",
            "stopTimeout 30s (ECS default) is not between HOKUSAI_DRAIN_SECONDS + "
            "HOKUSAI_DRAIN_TIMEOUT (45s)",
        ),
    ],
    ids=[
        "url-in-plain-env",
        "keys-cli",
        "metrics-on-api-port",
        "dynamic",
        "over-120",
        "ecs-default",
    ],
)
def test_a_variant_is_judged_by_its_rule_alone(
    tmp_path: Path, text: str, rule: str, status: str, evidence: str
) -> None:
    [finding] = [r for r in judged(tmp_path, text) if r.status != "ok"]

    assert (finding.id, finding.status) == (rule, status)
    assert evidence in finding.evidence
    assert finding.subject.startswith(f"{tmp_path / 'main.tf'}:")


def test_the_gateways_own_drain_defaults_fit_ecss_default_stop_timeout(tmp_path: Path) -> None:
    unset = {k: v for k, v in GATEWAY.items() if k != "HOKUSAI_DRAIN_SECONDS"}

    results = judged(tmp_path, module_call(unset, extra=""))

    assert [r.status for r in results if r.id == production.STOP_TIMEOUT] == ["ok"]


def test_without_keys_there_is_no_key_store_to_share(tmp_path: Path) -> None:
    results = judged(tmp_path, module_call({**GATEWAY, "HOKUSAI_AUTH": '"off"'}, "{}"))

    assert {r.status for r in results} == {"ok"}


def test_a_code_deploy_service_rolls_back_without_a_circuit_breaker(tmp_path: Path) -> None:
    service = """
resource "aws_ecs_service" "api" {
  name = "hokusai-api-production"
  deployment_controller {
    type = "CODE_DEPLOY"
  }
}
"""
    results = judged(tmp_path, service)

    assert [r.status for r in results if r.id == production.CIRCUIT_BREAKER] == ["ok"]
