"""What the tests share, imported as `support.<module>` (pyproject puts tests/ on the path).

Fixtures (registered once, in tests/conftest.py): `servers` (MLflow, gateway, moto_server,
redis-server, PostgreSQL per session) and `echo_upstream` (the recording upstream, `echo`).
Helpers: `processes` (ports, readiness, server processes), `secured` (keys, secured gateways),
`hokusai_cli` (the CLI as a process), `raw_http` (HTTP/1.1 by hand), `admin_api`, `aws`
(an environment in moto_server), `terraform`, `log_signals`, `filter_pattern`, `discovery`,
`incident`, `replicas` (gateway replicas behind HAProxy), `rolling`, `production` (the
production shape on loopback), `mlflow_load`, `rehearsal`, `stack` (`hokusai up`),
`buildah`, `browser`, `http_server` (the http package's own server, for its tests).
"""
