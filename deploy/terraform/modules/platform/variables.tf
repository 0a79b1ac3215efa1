variable "project" {
  type    = string
  default = "hokusai"
}

variable "environment" {
  description = "development, staging or production."
  type        = string

  validation {
    condition     = contains(["development", "staging", "production"], var.environment)
    error_message = "environment must be development, staging or production."
  }
}

variable "region" {
  type = string
}

variable "vpc_name" {
  description = "Name tag of the VPC the network stack made; subnets are found by their tier tag (private/public)."
  type        = string
}

variable "registry_host" {
  description = "Public host name of the registry API, e.g. registry.hokus.ai; the ALB forwards only this host."
  type        = string
}

variable "api_image" {
  type = string
}

variable "mlflow_image" {
  type = string
}

variable "api_desired_count" {
  type    = number
  default = 1
}

variable "mlflow_desired_count" {
  type    = number
  default = 1
}

variable "redis_endpoint" {
  description = "host:port of the Redis the API uses; published in SSM for the task to read."
  type        = string
}

variable "mlflow_fallback_urls" {
  description = "MLflow URLs the API falls back to when discovery has no answer. Set only through `hokusai endpoint pin`."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "alb_deletion_protection" {
  type    = bool
  default = true
}

variable "database_url_secret_arn" {
  description = <<-EOT
    The key store the API tasks share: ARN of an existing SSM SecureString parameter or Secrets
    Manager secret whose value is its PostgreSQL URL (postgresql://user:password@host:5432/db).
    Null: an RDS PostgreSQL instance is created for it (modules/database).
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.database_url_secret_arn == null || can(regex("^arn:aws[a-z-]*:(ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+|secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+)$", var.database_url_secret_arn))
    error_message = "database_url_secret_arn must be the ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/...) or a Secrets Manager secret (arn:aws:secretsmanager:...:secret:...), or null to create a database."
  }
}

variable "database" {
  description = "The RDS instance created when database_url_secret_arn is null."
  type = object({
    instance_class        = optional(string, "db.t4g.micro")
    allocated_storage     = optional(number, 20)
    multi_az              = optional(bool, true)
    deletion_protection   = optional(bool, true)
    backup_retention_days = optional(number, 7)
  })
  default = {}
}

variable "drain_seconds" {
  description = "HOKUSAI_DRAIN_SECONDS: after SIGTERM the API answers /health/ready with 503 and keeps serving this long, for clients that found the task by DNS (TTL 10 s)."
  type        = number
  default     = 15
}

variable "drain_timeout" {
  description = "HOKUSAI_DRAIN_TIMEOUT: then, how long requests and streams in progress may take to finish."
  type        = number
  default     = 30

  validation {
    condition     = var.drain_seconds >= 0 && var.drain_timeout >= 0 && var.drain_seconds + var.drain_timeout + 5 <= 120
    error_message = "drain_seconds + drain_timeout + 5 is the API container's stopTimeout, which ECS caps at 120 seconds."
  }
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (it must confirm the subscription); null for none."
  type        = string
  default     = null
}

variable "access_log_retention_days" {
  description = "Days the ALB's access logs (and the artifact bucket's) are kept."
  type        = number
  default     = 90
}
