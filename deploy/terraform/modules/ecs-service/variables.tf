variable "name" {
  description = "Platform service name (api, mlflow): the Cloud Map name and part of the ECS name."
  type        = string
}

variable "environment" {
  type = string
}

variable "region" {
  description = "Region of the log group."
  type        = string
}

variable "cluster_arn" {
  type = string
}

variable "service_registry_arn" {
  description = "Cloud Map service the tasks register in. Required: no service runs undiscoverable."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:servicediscovery:", var.service_registry_arn))
    error_message = "service_registry_arn must be a Cloud Map service ARN (arn:aws:servicediscovery:...)."
  }
}

variable "container_name" {
  type = string
}

variable "image" {
  type = string
}

variable "command" {
  description = "Overrides the image's command; null keeps it."
  type        = list(string)
  default     = null
}

variable "port" {
  type = number
}

variable "cpu" {
  type    = number
  default = 512
}

variable "memory" {
  type    = number
  default = 1024
}

variable "desired_count" {
  type    = number
  default = 1
}

variable "environment_variables" {
  description = "Plain environment of the container. Endpoints are discovery names, never IPs."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variable name => SSM parameter name or ARN (the container's valueFrom)."
  type        = map(string)
  default     = {}
}

variable "health_check_command" {
  description = "Container health check, in the task definition's CMD form."
  type        = list(string)
}

variable "log_group_name" {
  type = string
}

variable "execution_role_arn" {
  type = string
}

variable "task_role_arn" {
  type    = string
  default = null
}

variable "subnet_ids" {
  description = "Private subnets (awsvpc networking, no public IP)."
  type        = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "load_balancer" {
  description = "Target group to attach the container port to; null for a service only reached by discovery."
  type = object({
    target_group_arn = string
  })
  default = null
}

variable "health_check_grace_period_seconds" {
  description = "Used when a load balancer is attached."
  type        = number
  default     = 120
}

variable "metrics_port" {
  description = "A second container port, for /metrics alone (HOKUSAI_METRICS_PORT); null for none."
  type        = number
  default     = null
}

variable "stop_timeout" {
  description = "Seconds between SIGTERM and SIGKILL; null keeps ECS's default (30). Fargate allows at most 120."
  type        = number
  default     = null

  validation {
    condition     = var.stop_timeout == null || (coalesce(var.stop_timeout, 0) >= 2 && coalesce(var.stop_timeout, 0) <= 120)
    error_message = "stop_timeout must be between 2 and 120 seconds (the Fargate maximum)."
  }
}

variable "one_off_commands" {
  description = "Task definitions to run by hand with this service's image, environment and secrets: name => argv."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for argv in values(var.one_off_commands) : length(argv) > 0])
    error_message = "each one-off command needs at least the program to run."
  }
}
