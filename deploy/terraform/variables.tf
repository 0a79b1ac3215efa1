variable "environment" {
  type = string
}

variable "region" {
  type = string
}

variable "vpc_name" {
  type = string
}

variable "registry_host" {
  type = string
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
  type = string
}

variable "alb_deletion_protection" {
  type    = bool
  default = true
}

variable "database_url_secret_arn" {
  description = "An existing key store: ARN of the SSM SecureString or Secrets Manager secret holding its PostgreSQL URL. Null creates an RDS instance."
  type        = string
  default     = null
}

variable "database" {
  description = "The RDS instance created when database_url_secret_arn is null (see modules/platform)."
  type = object({
    instance_class        = optional(string)
    allocated_storage     = optional(number)
    multi_az              = optional(bool)
    deletion_protection   = optional(bool)
    backup_retention_days = optional(number)
  })
  default = {}
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; null for none."
  type        = string
  default     = null
}

variable "mlflow_pin" {
  description = "A direct MLflow URL the API falls back to while discovery is broken, with why and since when. Written by `hokusai endpoint pin`, removed by `unpin`."
  type = object({
    url    = string
    reason = string
    since  = string
  })
  default = null
}

variable "adopt" {
  description = "Existing resources to import instead of create, by key (see imports.tf) => id. Empty once adopted."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for key in keys(var.adopt) : contains([
      "namespace", "cluster", "discovery/api", "discovery/mlflow", "ecs/api", "ecs/mlflow",
    ], key)])
    error_message = "adopt keys are namespace, cluster, discovery/api, discovery/mlflow, ecs/api and ecs/mlflow."
  }
}
