# One ECS service and its task definition. Registration in Cloud Map is a required input:
# the outage was a service recreated with `serviceRegistries: []`, which this module cannot express.

locals {
  family = "hokusai-${var.name}-${var.environment}"
  ports  = var.metrics_port == null ? [var.port] : [var.port, var.metrics_port]

  # What every task of this image runs with: the service's and the one-off tasks'.
  runtime = merge(
    {
      name        = var.container_name
      image       = var.image
      essential   = true
      environment = [for name in sort(keys(var.environment_variables)) : { name = name, value = var.environment_variables[name] }]
      secrets     = [for name in sort(keys(var.secrets)) : { name = name, valueFrom = var.secrets[name] }]
    },
    var.stop_timeout == null ? {} : { stopTimeout = var.stop_timeout },
  )

  log_options = {
    awslogs-group  = var.log_group_name
    awslogs-region = var.region
  }

  container = merge(local.runtime, {
    portMappings = [for port in local.ports : { containerPort = port, hostPort = port, protocol = "tcp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { awslogs-stream-prefix = var.name })
    }
    healthCheck = {
      command     = var.health_check_command
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
  })
}

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_336:both images write to /tmp (metrics files, upload staging) and Fargate has no tmpfs
  family                   = local.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode([merge(local.container, var.command == null ? {} : { command = var.command })])
}

# Run by hand (`aws ecs run-task`), never by the service: the same image, environment and
# secrets, another command; their logs go to the service's group under their own prefix.
resource "aws_ecs_task_definition" "one_off" {
  #checkov:skip=CKV_AWS_336:the image writes to /tmp and Fargate has no tmpfs
  for_each = var.one_off_commands

  family                   = "${local.family}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  # The whole command, whatever the image's entrypoint is.
  container_definitions = jsonencode([merge(local.runtime, {
    entryPoint = slice(each.value, 0, 1)
    command    = slice(each.value, 1, length(each.value))
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { awslogs-stream-prefix = each.key })
    }
  })])
}

resource "aws_ecs_service" "this" {
  name            = local.family
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"
  propagate_tags  = "SERVICE"

  # Behind a load balancer a task must have time to start before the target group judges it.
  health_check_grace_period_seconds = var.load_balancer == null ? null : var.health_check_grace_period_seconds

  service_registries {
    registry_arn = var.service_registry_arn
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # A deployment whose tasks never turn healthy is rolled back to the last one that did.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "load_balancer" {
    for_each = var.load_balancer == null ? [] : [var.load_balancer]
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = var.container_name
      container_port   = var.port
    }
  }
}
