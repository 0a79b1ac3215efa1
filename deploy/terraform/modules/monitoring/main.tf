# Alarms on what users see (the ALB), on ECS keeping its tasks, and on the gateway's own signals,
# which its JSON log lines carry: every alarm notifies one SNS topic.

locals {
  alb_dimensions = {
    LoadBalancer = var.load_balancer_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }

  # Filters over the gateway's log lines (one JSON object each). The fallback is a state: its
  # metric is 1 when a task falls back and 0 when it fails back, and the alarm keeps its state
  # between the two; ejections and rate limits failing open are counted.
  log_signals = {
    fallback_active = {
      metric  = "DiscoveryFallbackActive"
      pattern = "{ $.logger = \"hokusai.discovery\" && $.msg = \"fallback active\" }"
      value   = "1"
    }
    failback = {
      metric  = "DiscoveryFallbackActive"
      pattern = "{ $.logger = \"hokusai.discovery\" && $.msg = \"failback to discovered endpoints\" }"
      value   = "0"
    }
    ejection = {
      metric  = "DiscoveryEjections"
      pattern = "{ $.logger = \"hokusai.discovery\" && $.msg = \"endpoint ejected\" }"
      value   = "1"
    }
    rate_limit_fail_open = {
      metric  = "RateLimitFailOpen"
      pattern = "{ $.logger = \"hokusai.ratelimit\" && $.msg = \"redis unreachable; rate limits not enforced\" }"
      value   = "1"
    }
  }

  gateway_alarms = {
    discovery-fallback = {
      metric      = "DiscoveryFallbackActive"
      statistic   = "Maximum"
      missing     = "ignore" # no line, no change: the state lasts until the next transition
      description = "The registry API serves MLflow through its pinned fallback: discovery has no usable answer (hokusai_discovery_fallback_active = 1)."
    }
    discovery-ejections = {
      metric      = "DiscoveryEjections"
      statistic   = "Sum"
      missing     = "notBreaching"
      description = "The registry API ejected an MLflow endpoint that failed requests in a row."
    }
    rate-limit-fail-open = {
      metric      = "RateLimitFailOpen"
      statistic   = "Sum"
      missing     = "notBreaching"
      description = "A registry API task lost Redis: rate limits are not enforced until it answers again."
    }
  }
}

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch cannot publish to a topic under the AWS-managed key; alarms carry no secrets
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_log_metric_filter" "gateway" {
  for_each = local.log_signals

  name           = "${var.name}-${replace(each.key, "_", "-")}"
  log_group_name = var.gateway_log_group_name
  pattern        = each.value.pattern

  metric_transformation {
    name      = each.value.metric
    namespace = var.metric_namespace
    value     = each.value.value
  }
}

# One minute, one datapoint: the outage (the registry's name gone, traffic on the fallback)
# raises this within a minute of the first task falling back.
resource "aws_cloudwatch_metric_alarm" "gateway" {
  for_each = local.gateway_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.metric_namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = each.value.missing
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-alb-5xx-rate"
  alarm_description   = "More than ${var.error_rate_percent}% of the registry's requests answered 5xx, by the API tasks or by the ALB."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching" # no requests, no error rate
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    label       = "5xx per 100 requests"
    expression  = "100 * (FILL(target, 0) + FILL(alb, 0)) / requests"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = {
      target   = { name = "HTTPCode_Target_5XX_Count", dimensions = local.alb_dimensions }
      alb      = { name = "HTTPCode_ELB_5XX_Count", dimensions = { LoadBalancer = var.load_balancer_arn_suffix } }
      requests = { name = "RequestCount", dimensions = { LoadBalancer = var.load_balancer_arn_suffix } }
    }
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value.name
        dimensions  = metric_query.value.dimensions
        stat        = "Sum"
        period      = 60
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  alarm_name          = "${var.name}-alb-unhealthy-targets"
  alarm_description   = "Registry API tasks fail the target group's health check (/health)."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.alb_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "response_time" {
  alarm_name          = "${var.name}-alb-response-time"
  alarm_description   = "p95 of the registry API's time to first byte is above ${var.response_time_seconds} s."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb_dimensions
  extended_statistic  = "p95"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.response_time_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# Container Insights (enabled on the cluster) counts each service's desired and running tasks.
resource "aws_cloudwatch_metric_alarm" "tasks_below_desired" {
  for_each = var.ecs_services

  alarm_name          = "${var.name}-${each.key}-tasks-below-desired"
  alarm_description   = "ECS runs fewer ${each.key} tasks than desired: tasks fail to start or keep stopping."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "missing_tasks"
    label       = "desired minus running tasks"
    expression  = "desired - running"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { desired = "DesiredTaskCount", running = "RunningTaskCount" }
    content {
      id = metric_query.key
      metric {
        namespace   = "ECS/ContainerInsights"
        metric_name = metric_query.value
        dimensions  = { ClusterName = var.cluster_name, ServiceName = each.value }
        stat        = "Average"
        period      = 60
      }
    }
  }
}
