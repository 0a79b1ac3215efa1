# What the services read: SSM parameters for endpoints and secrets, S3 for MLflow's artifacts,
# CloudWatch log groups.

resource "aws_ssm_parameter" "redis_endpoint" {
  #checkov:skip=CKV2_AWS_34:a host:port, not a secret
  name  = local.parameters.redis_endpoint
  type  = "String"
  value = var.redis_endpoint
}

# The value holds the database password: Terraform creates the parameter so it is declared and
# referenced by name; operators set the real value (`aws ssm put-parameter --overwrite`).
resource "aws_ssm_parameter" "mlflow_backend_store_uri" {
  #checkov:skip=CKV_AWS_337:encrypted with the account's aws/ssm key; a CMK would add a key policy to manage
  name  = local.parameters.mlflow_backend_store_uri
  type  = "SecureString"
  value = "set-by-operator"

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:no access-log bucket in this stack yet; MLflow is the only writer
  #checkov:skip=CKV_AWS_144:artifacts are re-creatable from training runs; no second region
  #checkov:skip=CKV2_AWS_61:artifacts live as long as their MLflow runs; MLflow's gc deletes them
  #checkov:skip=CKV2_AWS_62:nothing consumes artifact events
  bucket = "${local.name}-mlflow-artifacts"
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch; a CMK would add a key policy to manage
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days per environment
  for_each = toset(["api", "mlflow"])

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
}
