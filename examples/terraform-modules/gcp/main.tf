# A 3-node Aerolith cluster on GCP from the gcp-cluster module.
#   terraform init && terraform apply -var project=my-project -var admin_key=$(openssl rand -hex 16)
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0"
    }
    aerolith = {
      source  = "aerolithdb/aerolith"
      version = ">= 0.1.0"
    }
  }
}

provider "google" {
  project = var.project
}

provider "aerolith" {}

variable "project" {
  type = string
}

variable "admin_key" {
  type      = string
  sensitive = true
}

module "cluster" {
  source        = "../../../modules/gcp-cluster"
  name          = "orders"
  project       = var.project
  zone          = "us-central1-a"
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
