output "topic_arn" {
  description = "Every alarm notifies this SNS topic; subscribe on-call tooling to it."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  value = sort(concat(
    [for alarm in aws_cloudwatch_metric_alarm.gateway : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.tasks_below_desired : alarm.alarm_name],
    [
      aws_cloudwatch_metric_alarm.error_rate.alarm_name,
      aws_cloudwatch_metric_alarm.unhealthy_targets.alarm_name,
      aws_cloudwatch_metric_alarm.response_time.alarm_name,
    ],
  ))
}
