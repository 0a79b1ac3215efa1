# The public entry: HTTPS for the registry host name to the API tasks, whose /health answers
# 200 when healthy or degraded (serving through a pinned fallback) and 503 when MLflow is unreachable.

data "aws_acm_certificate" "registry" {
  domain      = var.registry_host
  statuses    = ["ISSUED"]
  most_recent = true
}

resource "aws_lb" "registry" {
  #checkov:skip=CKV_AWS_150:deletion protection is var.alb_deletion_protection, on except in development
  #checkov:skip=CKV2_AWS_28:no WAF yet; the gateway authenticates every request and rate-limits per key
  name                       = "${local.name}-registry"
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = data.aws_subnets.public.ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  # The ALB checks that it may write there when access logs are turned on.
  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB; the tasks are in private subnets, reachable from the ALB only
  name        = "${local.name}-api"
  port        = 8001
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = data.aws_vpc.this.id

  # As long as a task may take to stop: requests it has begun are not cut before it would.
  deregistration_delay = local.stop_timeout

  health_check {
    path                = "/health"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.registry.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.registry.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = data.aws_acm_certificate.registry.arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = jsonencode({ error_code = "ENDPOINT_NOT_FOUND", message = "unknown host" })
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener_rule" "registry" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    host_header {
      values = [var.registry_host]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}
