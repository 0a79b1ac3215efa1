variable "name" {
  description = "Identifier of the instance and prefix of its companions, e.g. hokusai-production."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  description = "Private subnets, in at least two availability zones."
  type        = list(string)
}

variable "client_security_group_ids" {
  description = "Security groups whose tasks may connect (the registry API's)."
  type        = list(string)
}

variable "url_parameter_name" {
  description = "SSM parameter that receives the database URL."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL major version; RDS applies minor upgrades itself."
  type        = string
  default     = "16"
}

variable "instance_class" {
  type    = string
  default = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "GiB at first; storage grows on its own up to five times this."
  type        = number
  default     = 20
}

variable "multi_az" {
  type    = bool
  default = true
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "backup_retention_days" {
  type    = number
  default = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35 (RDS's range; 0 would turn backups off)."
  }
}
