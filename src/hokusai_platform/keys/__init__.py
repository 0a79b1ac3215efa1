"""API keys: their SQL store, the scope each MLflow route needs, and the gateway's authenticator."""
