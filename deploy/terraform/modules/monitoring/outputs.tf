output "topic_arn" {
  description = "Every alarm notifies this SNS topic; subscribe on-call tooling to it."
  value       = aws_sns_topic.alarms.arn
}
