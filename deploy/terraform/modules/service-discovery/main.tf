# The private DNS namespace and one Cloud Map service per platform service. Created before the
# ECS services (they take these ARNs as required inputs), so no service can exist unregistered.

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = var.namespace
  description = "Service discovery for ${var.namespace}"
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "this" {
  for_each = toset(var.services)

  name = each.key

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = var.ttl
      type = "A"
    }
  }

  # ECS reports task health to Cloud Map; an unhealthy task leaves the DNS answer.
  health_check_custom_config {
    failure_threshold = 1
  }
}
