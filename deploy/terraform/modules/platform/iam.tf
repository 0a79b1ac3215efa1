data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

locals {
  database_url_in_secrets_manager = can(regex("^arn:[^:]+:secretsmanager:", var.database_url_secret_arn))
}

# Starts the tasks: writes their logs and reads exactly the parameters they reference.
resource "aws_iam_role" "execution" {
  name               = "${local.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.service : "${group.arn}:*"]
  }
  statement {
    actions = ["ssm:GetParameters"]
    resources = concat(
      [aws_ssm_parameter.redis_endpoint.arn, aws_ssm_parameter.mlflow_backend_store_uri.arn],
      local.database_url_in_secrets_manager ? [] : [local.database_url_arn],
    )
  }
  dynamic "statement" {
    for_each = local.database_url_in_secrets_manager ? [local.database_url_arn] : []
    content {
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-tasks"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# MLflow's own permissions: its artifact bucket, nothing else.
resource "aws_iam_role" "mlflow_task" {
  name               = "${local.name}-mlflow-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "artifacts" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]
  }
}

resource "aws_iam_role_policy" "artifacts" {
  name   = "mlflow-artifacts"
  role   = aws_iam_role.mlflow_task.id
  policy = data.aws_iam_policy_document.artifacts.json
}
