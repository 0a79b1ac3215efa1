output "service_name" {
  value = aws_ecs_service.this.name
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.this.arn
}

output "one_off_task_families" {
  description = "Task definition family of each one-off command, by name (`aws ecs run-task --task-definition`)."
  value       = { for name, task in aws_ecs_task_definition.one_off : name => task.family }
}
