"""`hokusai up | status | down | login-link`: the command-line face of the local stack."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import click

from hokusai_platform.stack import render
from hokusai_platform.stack.config import Ports, StackConfig
from hokusai_platform.stack.ports import PortInUse
from hokusai_platform.stack.state import AlreadyRunning, is_running, read_state
from hokusai_platform.stack.supervisor import StartFailed

DOWN_TIMEOUT = 60.0
NOT_RUNNING = 3  # exit status of `status` when nothing runs, as `systemctl status` does

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".hokusai"),
    show_default=True,
    help="Where the stack keeps its data, logs and state.",
)
Port = click.IntRange(1, 65535)


@click.command()
@data_dir_option
@click.option("--gateway-port", type=Port, default=Ports.gateway, show_default=True)
@click.option("--mlflow-port", type=Port, default=Ports.mlflow, show_default=True)
@click.option("--redis-port", type=Port, default=Ports.redis, show_default=True)
@click.option(
    "--dns-port", type=Port, default=Ports.dns, show_default=True, help="Discovery DNS (UDP+TCP)."
)
@click.option(
    "--discovery-port",
    type=Port,
    default=Ports.discovery,
    show_default=True,
    help="Discovery control API (`hokusai discovery list --control-url`).",
)
def up(data_dir: Path, **ports: int) -> None:
    """Run the whole platform on this machine until Ctrl-C: discovery, MLflow, Redis, the API.

    \b
    Wired like production: the registry API reaches MLflow as
    http://mlflow.hokusai-development.local:<port>, resolved by the embedded discovery DNS
    server that answers as Cloud Map does; each service is registered there once its health
    check passes and deregistered before it stops. Everything listens on 127.0.0.1.

    \b
    Data (MLflow's database and artifacts, Redis's append-only file, the keys database and
    the local API key) lives in the data dir and survives restarts; each service logs to
    <data-dir>/logs/<service>.log. A crashed service is restarted with back-off.
    `hokusai status` shows the stack from another terminal; `hokusai down` stops it.
    """
    if importlib.util.find_spec("mlflow") is None:
        # MLflow runs as `python -m mlflow` with this interpreter: without it, it never starts.
        raise click.ClickException(
            "hokusai up runs MLflow, which is not installed here; "
            "install the stack extra: pip install 'hokusai-platform[stack]'"
        )
    from hokusai_platform.stack import up as stack_up
    from hokusai_platform.stack.local_key import LocalKeyError

    port_options = {port: f"--{name.removesuffix('_port')}-port" for name, port in ports.items()}
    if len(port_options) < len(ports):
        names = ", ".join(f"--{name.removesuffix('_port')}-port" for name in ports)
        raise click.UsageError(f"every port must be different ({names})")
    config = StackConfig(data_dir, Ports(**{n.removesuffix("_port"): p for n, p in ports.items()}))
    try:
        stack_up.run(config)
    except AlreadyRunning as running:
        holder = f" (pid {running.pid})" if running.pid else ""
        raise click.ClickException(
            f"a stack is already running from {data_dir}{holder}; "
            "see `hokusai status`, stop it with `hokusai down`"
        ) from None
    except PortInUse as exc:
        option = port_options[exc.port]
        raise click.ClickException(f"{exc}; choose another port with {option}") from None
    except (StartFailed, LocalKeyError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
def status(data_dir: Path, as_json: bool) -> None:
    """Show the running stack: service, pid, address, DNS name, health, uptime.

    Exits with status 3 when no stack is running from the data dir.
    """
    config = StackConfig(data_dir)
    state = read_state(config.state_file) if is_running(config.lock_file) else None
    if as_json:
        click.echo(json.dumps({"running": state is not None, **(state or {})}, indent=2))
    elif state is None:
        click.echo(f"no stack is running from {data_dir} (start one with `hokusai up`)", err=True)
    else:
        from hokusai_platform.stack.local_key import read_key

        uptime = render.duration(time.time() - state["started_at"])
        click.echo(f"stack running from {state['data_dir']} (pid {state['pid']}, up {uptime})\n")
        click.echo(render.status_table(state["services"]))
        click.echo("")
        click.echo(render.usage(state["urls"], read_key(config.key_file)))
    if state is None:
        sys.exit(NOT_RUNNING)


@click.command("login-link")
@data_dir_option
@click.option(
    "--gateway-url",
    help="The registry API as the browser reaches it [default: the running stack's].",
)
def login_link(data_dir: Path, gateway_url: str | None) -> None:
    """Print a link that logs the local admin into the MLflow UI: usable once, within 60 s.

    The link opens a browser session for the stack's local key (<data-dir>/local-api-key)
    without pasting it; the keys database is the stack's (HOKUSAI_DATABASE_URL, else SQLite
    in the data dir).
    """
    from hokusai_platform.keys.sessions import LINK_SECONDS
    from hokusai_platform.stack.local_key import LocalKeyError, login_link_token

    config = StackConfig(data_dir)
    try:
        key, token = login_link_token(config.key_file, config.database_url)
    except LocalKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if gateway_url is None:
        state = read_state(config.state_file) if is_running(config.lock_file) else None
        port = state["ports"]["gateway"] if state else Ports.gateway
        gateway_url = f"http://127.0.0.1:{port}"
    click.echo(f"{gateway_url.rstrip('/')}/login/link?token={token}")
    click.echo(
        f"(logs in as {key.name}, scope {key.scope.value}; usable once, within {LINK_SECONDS} s)",
        err=True,
    )


@click.command()
@data_dir_option
def down(data_dir: Path) -> None:
    """Stop the stack running from the data dir (its data is kept)."""
    config = StackConfig(data_dir)
    state = read_state(config.state_file)
    if not is_running(config.lock_file) or state is None:
        click.echo(f"no stack is running from {data_dir}")
        return
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT
    while is_running(config.lock_file):
        if time.monotonic() > deadline:
            raise click.ClickException(
                f"the stack (pid {state['pid']}) did not stop within {DOWN_TIMEOUT:g}s"
            )
        time.sleep(0.1)
    click.echo(f"stopped the stack running from {data_dir} (pid {state['pid']})")
