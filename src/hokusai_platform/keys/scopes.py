"""A key's scope: `read`, `write` or `admin`; and the path families MLflow serves.

Which scope each MLflow route needs is the route table's (gateway/routes.py).
"""

from __future__ import annotations

import enum

API_FAMILIES = ("/api/2.0/", "/api/3.0/", "/ajax-api/2.0/", "/ajax-api/3.0/")
# MLflow answers these without authentication itself; load balancers probe them.
PUBLIC = frozenset({("GET", "/health"), ("GET", "/version")})


class Scope(enum.Enum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, required: Scope) -> bool:
        return _RANK[self] >= _RANK[required]


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}
READ, WRITE, ADMIN = Scope.READ, Scope.WRITE, Scope.ADMIN


def route_family(path: str) -> str:
    """The family a path belongs to, for the audit log: `api/2.0`, `mlflow-artifacts`, …"""
    for family in API_FAMILIES:
        if path.startswith(family):
            kind = "mlflow-artifacts" if path[len(family) :].startswith("mlflow-artifacts/") else ""
            return kind or family.strip("/")
    head = path.strip("/").split("/", 1)[0]
    if path.startswith("/model-versions/get-artifact"):
        return "model-versions/get-artifact"
    return head if head in ("get-artifact", "graphql", "health", "version") else "ui"
