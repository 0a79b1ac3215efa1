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
