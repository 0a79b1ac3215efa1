# Adoption of what already exists (the recommendations' Phase 1) as data: list the live ids in
# `adopt` (terraform.tfvars) and the next apply imports them instead of creating duplicates, e.g.
#   adopt = {
#     namespace          = "ns-xxxxx"
#     "discovery/api"    = "srv-xxxxx"
#     "discovery/mlflow" = "srv-yyyyy"
#     "ecs/api"          = "hokusai-development/hokusai-api-development"
#   }

import {
  for_each = { for key, id in var.adopt : key => id if key == "namespace" }
  to       = module.platform.module.discovery.aws_service_discovery_private_dns_namespace.this
  # The provider imports a namespace as <namespace id>:<vpc id>.
  id = "${each.value}:${data.aws_vpc.adopted[0].id}"
}

import {
  for_each = { for key, id in var.adopt : key => id if key == "cluster" }
  to       = module.platform.aws_ecs_cluster.this
  id       = each.value
}

import {
  for_each = { for key, id in var.adopt : trimprefix(key, "discovery/") => id if startswith(key, "discovery/") }
  to       = module.platform.module.discovery.aws_service_discovery_service.this[each.key]
  id       = each.value
}

import {
  for_each = { for key, id in var.adopt : key => id if key == "ecs/api" }
  to       = module.platform.module.api.aws_ecs_service.this
  id       = each.value
}

import {
  for_each = { for key, id in var.adopt : key => id if key == "ecs/mlflow" }
  to       = module.platform.module.mlflow.aws_ecs_service.this
  id       = each.value
}

data "aws_vpc" "adopted" {
  count = contains(keys(var.adopt), "namespace") ? 1 : 0
  tags  = { Name = var.vpc_name }
}
