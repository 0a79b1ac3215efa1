"""HTTP/1.1 over asyncio and httptools: a server and a pooled client, and nothing of MLflow.

This package imports nothing from the rest of hokusai_platform. It speaks the protocol and
reports what goes wrong as typed errors; what an error looks like to a caller (the gateway's
JSON) is decided by whoever uses it.
"""
