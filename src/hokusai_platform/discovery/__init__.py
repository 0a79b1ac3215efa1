"""Service discovery that survives the outage, in Envoy's words.

A `Cluster` turns what `settings` parsed from MLFLOW_SERVER_URL into live endpoints for the
gateway: `http://mlflow.hokusai-development.local:5000` (DNS, every A record an endpoint),
`cloudmap://hokusai-development.local/mlflow` (Cloud Map's DiscoverInstances) or
`http://10.0.1.88:5000` (static). Answers are cached for their TTL and refreshed in the
background, a failed refresh serves the last good endpoints for a while (`stale`), failing
endpoints are ejected and probed back, and a pinned fallback takes the traffic, loudly, only
when discovery has nothing usable::

    cluster = Cluster("mlflow", settings.mlflow, fallback=settings.fallback_urls)
    await cluster.start(session)            # first resolution, then background tasks
    endpoint = cluster.pick()               # never waits; None when nothing is usable
    cluster.report(endpoint, Outcome.SUCCESS)
    cluster.snapshot()                      # for /health
    await cluster.close()

One job per module:

    target           what is resolved, parsed once by settings: HttpTarget | CloudMapTarget
    endpoint         Endpoint: one server, whose identity is its address
    sources          DNS, Cloud Map's API, a literal address: endpoints and how long they hold
    resolver         the answer cache: refresh before expiry, serve-stale, negative TTL
    outlier          consecutive failures eject an endpoint, with growing back-off
    health_check     active probes of ejected endpoints (and of discovered ones on fallback)
    fallback         priority failover to the pinned endpoints, and failback
    load_balancer    round robin over the usable endpoints
    request_metrics  per-request counts and latencies, written in batches
    cluster          ties them together; its state (a Condition) is what /health reports
    policy           the knobs, one immutable object
    local/           a local stand-in for Cloud Map: registry, DNS server, control API

`DiscoveryServer` (`local.dns_server`) answers DNS as Cloud Map does; `Registry`
(`local.registry`) holds its instances. The local stack embeds both::

    registry = Registry("hokusai-development.local")
    server = DiscoveryServer(registry, dns_port=5300, control_port=5380)
    await server.start()
    registry.register("mlflow", "mlflow-1", "127.0.0.1", 5000)
    registry.set_health("mlflow", "mlflow-1", healthy=False)
    registry.deregister("mlflow", "mlflow-1")
    await server.close()

The package exports nothing itself: import from the module that does the job. Importing it
stays cheap and creates no metric, so `settings` can use `target`, `endpoint` and `policy`
before metrics are set up.
"""
