"""The commands the Terraform tests run: the real `terraform` on a copy of deploy/terraform, offline
and pointed at moto_server, and `hokusai` in-process (the drift replay runs it as a process);
and what the network stack and ACM provide before an apply."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import boto3
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hokusai_platform.cli import cli
from hokusai_platform.infra.layout import Environment

TREE = Path(__file__).resolve().parents[2] / "deploy" / "terraform"
ENVIRONMENTS = ("development", "staging", "production")
# Away from the regions other tests take from the front of the list.
REGION = "us-west-2"
REGISTRY_HOST = "registry.dev.hokus.ai"

# The services the configuration talks to; the test sends each to moto_server.
_ENDPOINTS = (
    "acm",
    "cloudwatch",
    "cloudwatchlogs",
    "ec2",
    "ecs",
    "elbv2",
    "iam",
    "rds",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "ssm",
    "sts",
)


def cli_environment(directory: Path) -> dict[str, str]:
    """os.environ plus a CLI config that installs the provider from the local mirror only."""
    config = directory / "terraform.rc"
    config.write_text(
        'provider_installation {\n  filesystem_mirror {\n    path = "/opt/tf-plugins"\n  }\n}\n'
    )
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def copy_tree(destination: Path) -> Path:
    """The committed tree (its provider lock file included), copied so that nothing terraform
    writes lands in the checkout."""
    return Path(shutil.copytree(TREE, destination, ignore=shutil.ignore_patterns(".terraform")))


def point_at_moto(environment: Environment, moto_url: str, region: str) -> None:
    """Override files (Terraform merges `*_override.tf` last) and the region to apply in.

    State stays local (backend_override.tf): the S3 backend's settings are the committed ones,
    checked by `hokusai infra lint`; applying here proves the resources, not the bucket.
    """
    root = environment.root
    (root / "backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    endpoints = "".join(f'    {name} = "{moto_url}"\n' for name in _ENDPOINTS)
    (root / "moto_override.tf").write_text(
        'provider "aws" {\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_requesting_account_id  = true\n"
        "  s3_use_path_style           = true\n"
        f"  endpoints {{\n{endpoints}  }}\n"
        "}\n"
    )
    # The only variable that differs from the committed environment.
    variables = environment.variables_file
    committed = variables.read_text()
    moved = re.sub(r'(?m)^region(\s*)= ".*"$', rf'region\1= "{region}"', committed)
    assert moved != committed, f"no region in {variables}"
    variables.write_text(moved)


def environment_process(environment: Environment, env: dict[str, str]) -> dict[str, str]:
    """`env` for `terraform -chdir=<root>` in `environment`: its own data directory."""
    return {**env, "TF_DATA_DIR": str(environment.data_dir)}


def terraform(
    root: Path, env: dict[str, str], *args: str, codes: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["terraform", f"-chdir={root}", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode not in codes:
        raise AssertionError(
            f"terraform {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def hokusai(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="hokusai")


def create_network_and_certificate() -> None:
    """What the network stack and ACM provide: a VPC named hokusai-development, tiered subnets."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "hokusai-development"}]}
        ],
    )["Vpc"]["VpcId"]
    for index, (tier, zone) in enumerate(
        [("private", "a"), ("private", "b"), ("public", "a"), ("public", "b")]
    ):
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"10.0.{index}.0/24",
            AvailabilityZone=f"{REGION}{zone}",
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": tier}]}
            ],
        )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, REGISTRY_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(REGISTRY_HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    boto3.client("acm", region_name=REGION).import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
