# What the services read: SSM parameters for endpoints and secrets, S3 for MLflow's artifacts,
# CloudWatch log groups; and the bucket of access logs (the ALB's, the artifact bucket's).

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

resource "aws_s3_bucket_logging" "artifacts" {
  bucket        = aws_s3_bucket.artifacts.id
  target_bucket = aws_s3_bucket.logs.id
  target_prefix = "s3/artifacts/"

  # S3 checks that the logging service may write there.
  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch; a CMK would add a key policy to manage
  #checkov:skip=CKV_AWS_338:retention is var.log_retention_days per environment
  for_each = toset(["api", "mlflow"])

  name              = "/ecs/${local.name}/${each.key}"
  retention_in_days = var.log_retention_days
}

# Access logs: the ALB's requests (alb/) and the artifact bucket's (s3/artifacts/).
resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_18:this is the access-log bucket; logging it into itself would loop
  #checkov:skip=CKV_AWS_144:access logs are kept for var.access_log_retention_days in one region
  #checkov:skip=CKV_AWS_145:the ALB writes access logs only to buckets encrypted with SSE-S3
  #checkov:skip=CKV2_AWS_62:nothing consumes log events
  bucket = "${local.name}-logs"
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire"
    status = "Enabled"
    filter {}

    expiration {
      days = var.access_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_caller_identity" "current" {}

# The region's Elastic Load Balancing account writes the ALB's logs.
data "aws_elb_service_account" "this" {}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/s3/artifacts/*"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json

  depends_on = [aws_s3_bucket_public_access_block.logs]
}
