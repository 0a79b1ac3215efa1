# The VPC belongs to the network stack; this stack finds it by name and its subnets by tier.

data "aws_vpc" "this" {
  tags = { Name = var.vpc_name }
}

data "aws_subnets" "private" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.this.id]
  }
  tags = { tier = "private" }
}

data "aws_subnets" "public" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.this.id]
  }
  tags = { tier = "public" }
}

resource "aws_security_group" "alb" {
  #checkov:skip=CKV_AWS_260:port 80 only answers with a redirect to HTTPS (aws_lb_listener.http)
  name        = "${local.name}-alb"
  description = "Registry ALB: HTTPS from anywhere, to the API tasks only"
  vpc_id      = data.aws_vpc.this.id

  ingress {
    description = "HTTPS from clients"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  ingress {
    description = "HTTP, only to be redirected to HTTPS"
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  egress {
    description = "To the API tasks"
    from_port   = 8001
    to_port     = 8001
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
}

resource "aws_security_group" "api" {
  name        = "${local.name}-api"
  description = "Registry API tasks: reached from the ALB; reach MLflow, Redis and AWS APIs"
  vpc_id      = data.aws_vpc.this.id

  ingress {
    description     = "From the ALB"
    from_port       = 8001
    to_port         = 8001
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }

  ingress {
    description = "Prometheus scrapes of /metrics, from inside the VPC only"
    from_port   = local.metrics_port
    to_port     = local.metrics_port
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }

  egress {
    description = "PostgreSQL key store"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }

  egress {
    description = "MLflow"
    from_port   = 5000
    to_port     = 5000
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }

  egress {
    description = "Redis"
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }

  egress {
    description = "AWS APIs and the image registry (SSM, ECR, CloudWatch Logs)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_security_group" "mlflow" {
  name        = "${local.name}-mlflow"
  description = "MLflow tasks: reached only by the API; reach the database and S3"
  vpc_id      = data.aws_vpc.this.id

  ingress {
    description     = "From the registry API only"
    from_port       = 5000
    to_port         = 5000
    protocol        = "tcp"
    security_groups = [aws_security_group.api.id]
  }

  egress {
    description = "PostgreSQL backend store"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }

  egress {
    description = "S3 artifacts, SSM, ECR, CloudWatch Logs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Attached to the Redis the API uses (managed with the data stores): only the API reaches it.
resource "aws_security_group" "redis" {
  #checkov:skip=CKV2_AWS_5:attached to the Redis cluster by the data-store stack (output redis_security_group_id)
  name        = "${local.name}-redis"
  description = "Redis: reached only by the registry API"
  vpc_id      = data.aws_vpc.this.id

  ingress {
    description     = "From the registry API only"
    from_port       = 6379
    to_port         = 6379
    protocol        = "tcp"
    security_groups = [aws_security_group.api.id]
  }
}
