"""What MLflow has to be asked before a grant can be checked: the experiment a run, a logged
model or a trace belongs to; an experiment's name; the id behind a name.

Asked through the gateway's own upstream client and cluster, and cached (keys/resource_cache):
a run's, a logged model's or a trace's experiment never changes, so those live long; an
experiment's name and the id behind a name change with a rename or a delete, so they live a
few seconds, and this process forgets them at once when it forwards the change itself.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from hokusai_platform.discovery.cluster import Cluster
from hokusai_platform.gateway.rules import Kind
from hokusai_platform.http.client import Client
from hokusai_platform.http.errors import ClientError
from hokusai_platform.keys.resource_cache import ResourceCache

_FIELDS = b"Accept: application/json\r\nContent-Type: application/json\r\n"
_GONE = (400, 404)  # MLflow's answer for an id it does not know (RESOURCE_DOES_NOT_EXIST, …)
PARENT_SECONDS = 600.0
NAME_SECONDS = 5.0


class LookupFailed(Exception):
    """MLflow could not be asked (502)."""


class Lookups:
    def __init__(
        self,
        cluster: Cluster,
        client: Client,
        *,
        max_entries: int = 100_000,
        name_seconds: float = NAME_SECONDS,
    ) -> None:
        self._cluster = cluster
        self._client = client
        self._parents: ResourceCache[tuple[Kind, str], str] = ResourceCache(
            max_entries=max_entries, ttl_seconds=PARENT_SECONDS
        )
        self._names: ResourceCache[str, str] = ResourceCache(
            max_entries=max_entries, ttl_seconds=name_seconds
        )
        self._ids: ResourceCache[str, str] = ResourceCache(
            max_entries=max_entries, ttl_seconds=name_seconds
        )

    async def call(self, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
        """One request to MLflow: its status and body."""
        endpoint = self._cluster.pick([])
        if endpoint is None:
            raise LookupFailed(f"upstream {self._cluster.target}: no usable endpoint")
        try:
            answer = await self._client.send(endpoint.address, method, target, _FIELDS, body)
            try:
                return answer.status, await answer.read()
            finally:
                answer.close()
        except ClientError as exc:
            raise LookupFailed(f"upstream {endpoint.authority}: {exc}") from exc

    async def _get(self, path: str, **query: str) -> dict[str, object] | None:
        target = path + ("?" + urlencode(query) if query else "")
        status, body = await self.call("GET", target)
        if status in _GONE:
            return None
        if status != 200:
            raise LookupFailed(f"MLflow answered {status} to GET {path}")
        try:
            value = json.loads(body)
        except ValueError:
            raise LookupFailed(f"MLflow's answer to GET {path} is not JSON") from None
        return value if isinstance(value, dict) else None

    async def experiment_of(self, kind: Kind, resource_id: str) -> str | None:
        """The id of the experiment a run, logged model or trace belongs to; None if unknown."""
        cached = self._parents.get((kind, resource_id))
        if cached is not None:
            return cached
        if kind is Kind.RUN:
            answer = await self._get("/api/2.0/mlflow/runs/get", run_id=resource_id)
            found = _dig(answer, "run", "info", "experiment_id")
        elif kind is Kind.LOGGED_MODEL:
            answer = await self._get(f"/api/2.0/mlflow/logged-models/{quote(resource_id, '')}")
            found = _dig(answer, "model", "info", "experiment_id")
        else:
            answer = await self._get(f"/api/3.0/mlflow/traces/{quote(resource_id, '')}")
            found = _dig(
                answer,
                "trace",
                "trace_info",
                "trace_location",
                "mlflow_experiment",
                "experiment_id",
            )
        if found is not None:
            self._parents.put((kind, resource_id), found)
        return found

    async def dataset_experiments(self, dataset_id: str) -> tuple[str, ...] | None:
        """The experiments an evaluation dataset belongs to; None if unknown. Not cached: a
        dataset joins and leaves experiments."""
        target = f"/api/3.0/mlflow/datasets/{quote(dataset_id, '')}/experiment-ids"
        answer = await self._get(target)
        if answer is None:
            return None
        ids = answer.get("experiment_ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise LookupFailed(f"MLflow's answer to GET {target} lists no experiment ids")
        return tuple(ids)

    async def experiment_name(self, experiment_id: str) -> str | None:
        cached = self._names.get(experiment_id)
        if cached is not None:
            return cached
        answer = await self._get("/api/2.0/mlflow/experiments/get", experiment_id=experiment_id)
        name = _dig(answer, "experiment", "name")
        if name is not None:
            self._names.put(experiment_id, name)
        return name

    async def experiment_id(self, name: str) -> str | None:
        cached = self._ids.get(name)
        if cached is not None:
            return cached
        answer = await self._get("/api/2.0/mlflow/experiments/get-by-name", experiment_name=name)
        found = _dig(answer, "experiment", "experiment_id")
        if found is not None:
            self._ids.put(name, found)
            self._names.put(found, name)
        return found

    def forget_experiment(self, experiment_id: str) -> None:
        """It was renamed, deleted or restored: its name and the id behind it may differ now."""
        name = self._names.get(experiment_id)
        if name is not None:
            self._ids.invalidate(name)
        self._names.invalidate(experiment_id)

    def remember_parent(self, kind: Kind, resource_id: str, experiment_id: str) -> None:
        """What MLflow said in passing (a search's answer): one lookup fewer later."""
        self._parents.put((kind, resource_id), experiment_id)

    def remember_name(self, experiment_id: str, name: str) -> None:
        self._names.put(experiment_id, name)


def _dig(value: object, *path: str) -> str | None:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None
