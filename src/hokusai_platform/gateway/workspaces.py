"""Keys pinned to an MLflow workspace (an MLflow server run with `--enable-workspaces`).

MLflow takes a request's workspace from its `X-MLFLOW-WORKSPACE` header, and the default
workspace when it has none. A pinned key does not choose: the gateway drops whatever the caller
sent and sets the key's workspace itself on the request it forwards, and a request that asks
for another workspace is refused (403) rather than quietly answered from the pinned one. For a
key with no workspace the gateway does nothing here: the caller's header reaches MLflow as sent.
MLflow's workspace API itself is not scoped to a workspace: a pinned key may read (or, with
`admin`, change) its own workspace there, and may neither list nor create any.

The header is recognised however it is spelled: in any case, and with `_` for `-`, which a
WSGI server folds into the same variable.
"""

from __future__ import annotations

import re

from hokusai_platform.http.messages import Request

HEADER = b"X-MLFLOW-WORKSPACE"
_NAME = HEADER.lower()
_WORKSPACE_API = re.compile(r"/(?:ajax-)?api/[23]\.0/mlflow/workspaces(?:/([^/]+))?/?")


def _names_workspace(lowered_name: bytes) -> bool:
    return lowered_name.replace(b"_", b"-") == _NAME


def requested_workspace(request: Request) -> str | None:
    """The workspace the request names, as MLflow reads it; None: MLflow's default."""
    value = request.field(_NAME)
    return (value.decode("latin-1").strip() or None) if value is not None else None


def field(workspace: str) -> bytes:
    """The header field, as the gateway sends it to MLflow on its own requests."""
    return HEADER + b": " + workspace.encode("latin-1") + b"\r\n"


def pin(request: Request, mlflow_path: str, workspace: str) -> str | None:
    """Set `request`'s workspace to `workspace`; or, if it asks for another, that one."""
    managed = _WORKSPACE_API.fullmatch(mlflow_path)
    if managed is not None and managed[1] != workspace:
        return managed[1] or "every workspace"
    kept: list[tuple[bytes, bytes]] = []
    names: list[bytes] = []
    for name, field in zip(request.field_names, request.raw_headers, strict=True):
        if not _names_workspace(name):
            kept.append(field)
            names.append(name)
            continue
        asked = field[1].decode("latin-1").strip()
        if asked and asked != workspace:
            return asked
    kept.append((HEADER, workspace.encode()))
    names.append(_NAME)
    request.raw_headers, request.field_names = kept, names
    return None
