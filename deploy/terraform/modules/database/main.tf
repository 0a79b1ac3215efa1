# The key store every API task shares: RDS PostgreSQL in the private subnets, reached only from
# the security groups named, and its URL in an SSM SecureString for the tasks' `secrets`.
# The password is generated at create time and written only to RDS and to the parameter
# (write-only arguments): it is in neither the plan nor the state.

locals {
  username = "hokusai"
  database = "hokusai"
}

ephemeral "aws_secretsmanager_random_password" "master" {
  password_length     = 40
  exclude_punctuation = true # the password goes into a URL unescaped
}

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "this" {
  name        = "${var.name}-database"
  description = "Key store: PostgreSQL from the registry API tasks only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "PostgreSQL from the registry API tasks"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = var.client_security_group_ids
  }
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV_AWS_118:enhanced monitoring needs a role of its own; CloudWatch has the instance metrics and logs
  #checkov:skip=CKV_AWS_354:Performance Insights data is encrypted with the account's RDS key
  #checkov:skip=CKV2_AWS_30:query logging would write key lookups (hashes) to CloudWatch; errors and slow statements are logged
  #checkov:skip=CKV_AWS_293:deletion protection is var.deletion_protection, on except in development
  #checkov:skip=CKV_AWS_157:Multi-AZ is var.multi_az, on except in development and staging
  #checkov:skip=CKV_AWS_133:backups are var.backup_retention_days, validated to 1-35 days (never off)
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.allocated_storage * 5
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name             = local.database
  username            = local.username
  password_wo         = ephemeral.aws_secretsmanager_random_password.master.random_password
  password_wo_version = 1

  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [aws_security_group.this.id]
  publicly_accessible                 = false
  multi_az                            = var.multi_az
  iam_database_authentication_enabled = true

  backup_retention_period         = var.backup_retention_days
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${var.name}-final"
  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  performance_insights_enabled    = true
}

resource "aws_ssm_parameter" "url" {
  #checkov:skip=CKV_AWS_337:encrypted with the account's aws/ssm key; a CMK would add a key policy to manage
  name             = var.url_parameter_name
  description      = "HOKUSAI_DATABASE_URL of the registry API tasks (written by Terraform, never in its state)"
  type             = "SecureString"
  value_wo         = "postgresql://${local.username}:${ephemeral.aws_secretsmanager_random_password.master.random_password}@${aws_db_instance.this.endpoint}/${local.database}"
  value_wo_version = 1

  # A new instance has a new password: the URL is written again with it, in the same apply.
  lifecycle {
    replace_triggered_by = [aws_db_instance.this.resource_id]
  }
}
