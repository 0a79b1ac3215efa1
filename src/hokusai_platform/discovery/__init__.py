"""Service discovery that survives the outage.

`Upstream` turns an upstream URL into live endpoints for the gateway:
`http://mlflow.hokusai-development.local:5000` (DNS, every A record an endpoint),
`cloudmap://hokusai-development.local/mlflow` (Cloud Map's DiscoverInstances) or
`http://10.0.1.88:5000` (static). Answers are cached for their TTL and refreshed in the
background, a failed refresh serves the last good endpoints for a while (`stale`), failing
endpoints are ejected and probed back, and a pinned fallback takes the traffic, loudly, only
when discovery has nothing usable::

    upstream = Upstream("mlflow", settings.mlflow, fallback=[HttpTarget("http", "10.0.1.88", 5000)])
    await upstream.start(session)           # first resolution, then background tasks
    endpoint = upstream.pick()              # never waits; None when nothing is usable
    upstream.report(endpoint, Outcome.SUCCESS)
    upstream.snapshot()                     # for /health
    await upstream.close()

`DiscoveryServer` (`local.dns_server`) is a local stand-in for Cloud Map's DNS with the same
answers; `Registry` (`local.registry`) holds its instances. The local stack embeds both::

    registry = Registry("hokusai-development.local")
    server = DiscoveryServer(registry, dns_port=5300, control_port=5380)
    await server.start()
    registry.register("mlflow", "mlflow-1", "127.0.0.1", 5000)
    registry.set_health("mlflow", "mlflow-1", healthy=False)
    registry.deregister("mlflow", "mlflow-1")
    await server.close()

The package exports nothing itself: import from the module that does the job
(`discovery.upstream`, `discovery.local.dns_server`, ...). Importing it stays cheap and creates no
metric, so `settings` can use `discovery.policy` before metrics are set up.
"""
