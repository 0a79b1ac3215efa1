# The Hokusai registry platform: the API gateway and MLflow as ECS services that find each
# other by Cloud Map names, the API behind an ALB. Every endpoint is a name, never an address.

locals {
  namespace  = "${var.project}-${var.environment}.local"
  name       = "${var.project}-${var.environment}"
  mlflow_dns = "mlflow.${local.namespace}"

  parameters = {
    redis_endpoint           = "/${var.project}/${var.environment}/redis/endpoint"
    mlflow_backend_store_uri = "/${var.project}/${var.environment}/mlflow/backend-store-uri"
    database_url             = "/${var.project}/${var.environment}/keys/database-url"
  }

  # Every API task reads its keys from this one PostgreSQL database, never a SQLite of its own.
  database_url_arn = var.database_url_secret_arn == null ? module.database[0].url_parameter_arn : var.database_url_secret_arn

  # Stopping an API task: the ALB deregisters it and lets requests finish for the target
  # group's deregistration delay; then ECS sends SIGTERM, the API drains (/health/ready 503,
  # still serving) for drain_seconds and gives requests in progress up to drain_timeout
  # more. stopTimeout covers both, and a few seconds to exit, before ECS kills it.
  stop_timeout = var.drain_seconds + var.drain_timeout + 5

  # /metrics is served on this port only, which the security group opens to the VPC alone.
  metrics_port = 9464
}

module "discovery" {
  source = "../service-discovery"

  namespace = local.namespace
  vpc_id    = data.aws_vpc.this.id
  services  = ["api", "mlflow"]
}

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

module "api" {
  source = "../ecs-service"

  name                 = "api"
  environment          = var.environment
  region               = var.region
  cluster_arn          = aws_ecs_cluster.this.arn
  service_registry_arn = module.discovery.service_arns["api"]
  container_name       = "hokusai-api"
  image                = var.api_image
  port                 = 8001
  desired_count        = var.api_desired_count
  metrics_port         = local.metrics_port
  stop_timeout         = local.stop_timeout
  environment_variables = {
    MLFLOW_SERVER_URL     = "http://${local.mlflow_dns}:5000"
    MLFLOW_FALLBACK_URLS  = join(",", var.mlflow_fallback_urls)
    HOKUSAI_HOST          = "0.0.0.0"
    HOKUSAI_PORT          = "8001"
    HOKUSAI_METRICS_PORT  = local.metrics_port
    HOKUSAI_DRAIN_SECONDS = var.drain_seconds
    HOKUSAI_DRAIN_TIMEOUT = var.drain_timeout
    # The registry's public name, and its discovery name for callers inside the VPC.
    HOKUSAI_ALLOWED_HOSTS = join(",", [var.registry_host, "api.${local.namespace}"])
    # The task's stderr is its CloudWatch log stream; a file would be lost with the task.
    HOKUSAI_AUDIT_LOG = "stderr"
  }
  secrets = {
    REDIS_HOST           = aws_ssm_parameter.redis_endpoint.arn
    HOKUSAI_DATABASE_URL = local.database_url_arn
  }
  # The first admin key; it expires in a day, by when it has made the keys that last
  # (its secret is in the task's log stream). See the bootstrap_admin_key output.
  one_off_commands = {
    bootstrap-admin = ["hokusai", "keys", "create", "--name", "bootstrap-admin", "--scope", "admin", "--expires", "1d"]
  }
  health_check_command = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health/live', timeout=3)"]
  log_group_name       = aws_cloudwatch_log_group.service["api"].name
  execution_role_arn   = aws_iam_role.execution.arn
  subnet_ids           = data.aws_subnets.private.ids
  security_group_ids   = [aws_security_group.api.id]
  load_balancer        = { target_group_arn = aws_lb_target_group.api.arn }

  # The target group must belong to a load balancer before a service can attach to it.
  depends_on = [aws_lb_listener_rule.registry]
}

module "mlflow" {
  source = "../ecs-service"

  name                 = "mlflow"
  environment          = var.environment
  region               = var.region
  cluster_arn          = aws_ecs_cluster.this.arn
  service_registry_arn = module.discovery.service_arns["mlflow"]
  container_name       = "mlflow"
  image                = var.mlflow_image
  command              = ["mlflow", "server"]
  port                 = 5000
  desired_count        = var.mlflow_desired_count
  cpu                  = 1024
  memory               = 2048
  environment_variables = {
    MLFLOW_HOST                  = "0.0.0.0"
    MLFLOW_PORT                  = "5000"
    MLFLOW_WORKERS               = "2"
    MLFLOW_ARTIFACTS_DESTINATION = "s3://${aws_s3_bucket.artifacts.bucket}"
    # MLflow 3 refuses unknown Host headers: the discovery name is how the API reaches it.
    # Setting it replaces MLflow's defaults, so loopback and the private ranges are listed again.
    MLFLOW_SERVER_ALLOWED_HOSTS = join(",", [
      local.mlflow_dns, "${local.mlflow_dns}:5000", "localhost:*", "127.0.0.1:*",
      "10.*", "172.1[6-9].*", "172.2[0-9].*", "172.3[0-1].*", "192.168.*",
    ])
  }
  secrets = {
    MLFLOW_BACKEND_STORE_URI = aws_ssm_parameter.mlflow_backend_store_uri.arn
  }
  health_check_command = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=3)"]
  log_group_name       = aws_cloudwatch_log_group.service["mlflow"].name
  execution_role_arn   = aws_iam_role.execution.arn
  task_role_arn        = aws_iam_role.mlflow_task.arn
  subnet_ids           = data.aws_subnets.private.ids
  security_group_ids   = [aws_security_group.mlflow.id]
}

module "database" {
  source = "../database"
  count  = var.database_url_secret_arn == null ? 1 : 0

  name                      = local.name
  vpc_id                    = data.aws_vpc.this.id
  subnet_ids                = data.aws_subnets.private.ids
  client_security_group_ids = [aws_security_group.api.id]
  url_parameter_name        = local.parameters.database_url
  instance_class            = var.database.instance_class
  allocated_storage         = var.database.allocated_storage
  multi_az                  = var.database.multi_az
  deletion_protection       = var.database.deletion_protection
  backup_retention_days     = var.database.backup_retention_days
}

module "monitoring" {
  source = "../monitoring"

  name                     = local.name
  metric_namespace         = "${var.project}/${var.environment}"
  alarm_email              = var.alarm_email
  load_balancer_arn_suffix = aws_lb.registry.arn_suffix
  target_group_arn_suffix  = aws_lb_target_group.api.arn_suffix
  cluster_name             = aws_ecs_cluster.this.name
  ecs_services             = { api = module.api.service_name, mlflow = module.mlflow.service_name }
  gateway_log_group_name   = aws_cloudwatch_log_group.service["api"].name
}
