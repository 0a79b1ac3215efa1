output "namespace" {
  value = module.discovery.namespace_name
}

output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "ecs_services" {
  value = { api = module.api.service_name, mlflow = module.mlflow.service_name }
}

output "registry_dns_name" {
  description = "Point the registry host's DNS record (CNAME/alias) here."
  value       = aws_lb.registry.dns_name
}

output "redis_security_group_id" {
  description = "Attach to the Redis cluster so that only the API reaches it."
  value       = aws_security_group.redis.id
}

output "api_security_group_id" {
  description = "The registry API tasks' security group: let it reach an existing key store (PostgreSQL, 5432)."
  value       = aws_security_group.api.id
}

output "database_endpoint" {
  description = "host:port of the key store this stack created; null when database_url_secret_arn names one."
  value       = one(module.database[*].endpoint)
}

output "alarm_topic_arn" {
  description = "Every alarm notifies this SNS topic."
  value       = module.monitoring.topic_arn
}

locals {
  bootstrap = {
    cluster = aws_ecs_cluster.this.name
    family  = module.api.one_off_task_families["bootstrap-admin"]
    network = "awsvpcConfiguration={subnets=[${join(",", data.aws_subnets.private.ids)}],securityGroups=[${aws_security_group.api.id}],assignPublicIp=DISABLED}"
    group   = aws_cloudwatch_log_group.service["api"].name
  }
}

output "bootstrap_admin_key" {
  description = "Creates the first admin key (it expires in a day) in the shared key store and prints it: run once, after the first apply."
  value = join(" ", [
    "task=$(aws ecs run-task --region ${var.region} --cluster ${local.bootstrap.cluster}",
    "--launch-type FARGATE --task-definition ${local.bootstrap.family}",
    "--network-configuration '${local.bootstrap.network}' --query 'tasks[0].taskArn' --output text)",
    "&& aws ecs wait tasks-stopped --region ${var.region} --cluster ${local.bootstrap.cluster} --tasks \"$task\"",
    "&& aws logs get-log-events --region ${var.region} --log-group-name ${local.bootstrap.group}",
    "--log-stream-name \"bootstrap-admin/hokusai-api/$${task##*/}\" --query 'events[].message' --output text",
  ])
}
