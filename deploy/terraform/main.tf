# The one root of every environment. An environment is its variables and its state:
# environments/<env>/terraform.tfvars and backend.hcl, with a working directory of its own, e.g.
#   export TF_DATA_DIR=environments/staging/.terraform
#   terraform init -backend-config=environments/staging/backend.hcl
#   terraform plan -var-file=environments/staging/terraform.tfvars -out=tfplan
# Never init without TF_DATA_DIR: a command that forgets it then finds no backend and stops,
# instead of planning one environment's variables against another's state.

terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      managed-by  = "terraform"
      environment = var.environment
      stack       = "hokusai-platform"
    }
  }
}

module "platform" {
  source = "./modules/platform"

  environment          = var.environment
  region               = var.region
  vpc_name             = var.vpc_name
  registry_host        = var.registry_host
  api_image            = var.api_image
  mlflow_image         = var.mlflow_image
  api_desired_count    = var.api_desired_count
  mlflow_desired_count = var.mlflow_desired_count
  redis_endpoint       = var.redis_endpoint
  mlflow_fallback_urls = var.mlflow_pin == null ? [] : [var.mlflow_pin.url]

  database_url_secret_arn = var.database_url_secret_arn
  database                = var.database
  alarm_email             = var.alarm_email

  alb_deletion_protection = var.alb_deletion_protection
}

output "namespace" {
  value = module.platform.namespace
}

output "cluster_name" {
  value = module.platform.cluster_name
}

output "ecs_services" {
  value = module.platform.ecs_services
}

output "registry_dns_name" {
  value = module.platform.registry_dns_name
}

output "bootstrap_admin_key" {
  description = "Run once after the first apply: creates the first admin key and prints it."
  value       = module.platform.bootstrap_admin_key
}

output "alarm_topic_arn" {
  value = module.platform.alarm_topic_arn
}

output "api_security_group_id" {
  value = module.platform.api_security_group_id
}

output "database_endpoint" {
  value = module.platform.database_endpoint
}
