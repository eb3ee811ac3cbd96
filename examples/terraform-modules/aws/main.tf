# A 3-node Aerolith cluster on AWS from the aws-cluster module.
#   terraform init && terraform apply -var admin_key=$(openssl rand -hex 16)
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    aerolith = {
      source  = "aerolithdb/aerolith"
      version = ">= 0.1.0"
    }
  }
}

provider "aws" {
  region = var.region
}

provider "aerolith" {}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "admin_key" {
  type      = string
  sensitive = true
}

module "cluster" {
  source        = "../../../modules/aws-cluster"
  name          = "orders"
  region        = var.region
  node_count    = 3
  agent_url     = "https://downloads.example.com/aerolith/v0.1.0/aerolith-linux-amd64"
  agent_sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  admin_key     = var.admin_key
  allowed_cidrs = ["203.0.113.0/24"]
  insecure_http = true
}

output "endpoints" {
  value = module.cluster.endpoints
}
