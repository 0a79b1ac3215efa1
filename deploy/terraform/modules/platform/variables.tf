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
