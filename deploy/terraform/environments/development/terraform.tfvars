environment   = "development"
region        = "us-east-1"
vpc_name      = "hokusai-development"
registry_host = "registry.dev.hokus.ai"
api_image     = "ghcr.io/hokusai/registry-api:latest"
mlflow_image  = "ghcr.io/mlflow/mlflow:v3.1.1"

redis_endpoint          = "hokusai-development.redis.internal:6379"
alb_deletion_protection = false

# One small instance, removable with the environment.
database = { multi_az = false, deletion_protection = false, backup_retention_days = 1 }
