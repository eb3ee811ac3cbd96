# A 3-node Aerolith cluster on Azure from the azure-cluster module.
#   terraform init && terraform apply -var admin_key=$(openssl rand -hex 16) -var ssh_public_key="$(cat ~/.ssh/id_ed25519.pub)"
terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 3.0"
    }
    aerolith = {
      source  = "aerolithdb/aerolith"
      version = ">= 0.1.0"
    }
  }
}

provider "azurerm" {
  features {}
}

provider "aerolith" {}

variable "admin_key" {
  type      = string
  sensitive = true
}

variable "ssh_public_key" {
  type = string
}

module "cluster" {
  source         = "../../../modules/azure-cluster"
  name           = "orders"
  location       = "westeurope"
  node_count     = 3
  agent_url      = "https://downloads.example.com/aerolith/v0.1.0/aerolith-linux-amd64"
  agent_sha256   = "0000000000000000000000000000000000000000000000000000000000000000"
  admin_key      = var.admin_key
  ssh_public_key = var.ssh_public_key
  allowed_cidrs  = ["203.0.113.0/24"]
  insecure_http  = true
}

output "endpoints" {
  value = module.cluster.endpoints
}
