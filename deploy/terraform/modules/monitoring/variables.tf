variable "name" {
  description = "Prefix of the alarms and the topic, e.g. hokusai-production."
  type        = string
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the metrics drawn from the gateway's log lines, e.g. Hokusai/production."
  type        = string
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (it must confirm); null for none."
  type        = string
  default     = null
}

variable "load_balancer_arn_suffix" {
  type = string
}

variable "target_group_arn_suffix" {
  type = string
}

variable "cluster_name" {
  type = string
}

variable "ecs_services" {
  description = "ECS service name by platform service name (api, mlflow)."
  type        = map(string)
}

variable "gateway_log_group_name" {
  description = "Log group of the registry API tasks, whose JSON lines the metric filters read."
  type        = string
}

variable "error_rate_percent" {
  description = "Share of requests answered 5xx (by the targets or the ALB) that raises the alarm."
  type        = number
  default     = 5
}

variable "response_time_seconds" {
  description = "p95 of the targets' time to first response byte that raises the alarm."
  type        = number
  default     = 2
}
