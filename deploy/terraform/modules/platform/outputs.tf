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
