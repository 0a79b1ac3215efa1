environment   = "staging"
region        = "us-east-1"
vpc_name      = "hokusai-staging"
registry_host = "registry.staging.hokus.ai"
api_image     = "ghcr.io/hokusai/registry-api:latest"
mlflow_image  = "ghcr.io/mlflow/mlflow:v3.1.1"

redis_endpoint = "hokusai-staging.redis.internal:6379"

database = { multi_az = false }
