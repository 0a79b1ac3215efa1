"""API keys and what they may reach: their SQL store, the scope each MLflow route needs, teams
and per-resource grants, and the gateway's authenticator."""
