environment   = "production"
region        = "us-east-1"
vpc_name      = "hokusai-production"
registry_host = "registry.hokus.ai"
api_image     = "ghcr.io/hokusai/registry-api:latest"
mlflow_image  = "ghcr.io/mlflow/mlflow:v3.1.1"

api_desired_count    = 2
mlflow_desired_count = 2
redis_endpoint       = "hokusai-production.redis.internal:6379"
