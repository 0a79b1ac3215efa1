variable "namespace" {
  description = "Private DNS namespace, e.g. hokusai-development.local."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+\\.local$", var.namespace))
    error_message = "namespace must look like <project>-<environment>.local."
  }
}

variable "vpc_id" {
  description = "VPC the namespace answers in."
  type        = string
}

variable "services" {
  description = "Cloud Map service names, one per platform service (api, mlflow)."
  type        = list(string)
}

variable "ttl" {
  description = "Seconds a DNS answer may be cached: short, so a replaced task is found quickly."
  type        = number
  default     = 10

  validation {
    condition     = var.ttl >= 5 && var.ttl <= 60
    error_message = "ttl must be between 5 and 60 seconds."
  }
}
