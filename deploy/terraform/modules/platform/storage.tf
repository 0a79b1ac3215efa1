# What the services read: SSM parameters for endpoints and secrets, S3 for MLflow's artifacts,
# CloudWatch log groups.

resource "aws_ssm_parameter" "redis_endpoint" {
  name  = local.parameters.redis_endpoint
  type  = "String"
  value = var.redis_endpoint
}

# The value holds the database password: Terraform creates the parameter so it is declared and
# referenced by name; operators set the real value (`aws ssm put-parameter --overwrite`).
resource "aws_ssm_parameter" "mlflow_backend_store_uri" {
  name  = local.parameters.mlflow_backend_store_uri
  type  = "SecureString"
  value = "set-by-operator"

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_s3_bucket" "artifacts" {
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
  for_each = toset(["api", "mlflow"])

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
}
