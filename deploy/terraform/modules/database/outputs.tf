output "url_parameter_arn" {
  description = "The SSM parameter holding HOKUSAI_DATABASE_URL (a task's `secrets` valueFrom)."
  value       = aws_ssm_parameter.url.arn
}

output "endpoint" {
  value = aws_db_instance.this.endpoint
}

output "security_group_id" {
  value = aws_security_group.this.id
}
