bucket       = "hokusai-terraform-state"
key          = "hokusai-platform/development.tfstate"
region       = "us-east-1"
encrypt      = true
use_lockfile = true
