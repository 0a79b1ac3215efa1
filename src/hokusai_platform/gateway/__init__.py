"""The registry API: health endpoints and a streaming reverse proxy in front of MLflow."""
