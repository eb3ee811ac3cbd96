# A tenant and a 3-node cluster on Google Compute Engine serving it, with a
# key. Against the offline simulator (aerolith cloudsim serve, which speaks
# the Compute API, issues tokens for the service account key file it
# writes, and boots every instance from its user data) in one command:
#
#   make demo-terraform EXAMPLE=gcp
#
# Against GCP itself: leave gcp_endpoint empty, set project, take
# credentials from Application Default Credentials
# (GOOGLE_APPLICATION_CREDENTIALS or gcloud), serve billing over TLS
# (billing_ca_file) and drop insecure_http.

terraform {
  required_providers {
    aerolith = {
      source = "aerolithdb/aerolith"
    }
  }
}

variable "billing_url" {
  type    = string
  default = "http://127.0.0.1:7480"
}

variable "billing_key" {
  type      = string
  sensitive = true
}

variable "billing_ca_file" {
  type    = string
  default = null
}

variable "project" {
  description = "GCP project of the cluster (the simulator's key file names aerolith-sim)"
  type        = string
  default     = "aerolith-sim"
}

variable "region" {
  type    = string
  default = "europe-west1"
}

variable "zone" {
  type    = string
  default = "europe-west1-b"
}

variable "gcp_endpoint" {
  description = "Compute Engine endpoint override (the simulator); null for GCP"
  type        = string
  default     = null
}

variable "agent_url" {
  type = string
}

variable "agent_sha256" {
  type = string
}

variable "state_dir" {
  type = string
}

variable "insecure_http" {
  description = "plain HTTP nodes: only for a simulator on loopback"
  type        = bool
  default     = false
}

provider "aerolith" {
  billing_url = var.billing_url
  billing_key = var.billing_key
  ca_file     = var.billing_ca_file
  state_dir   = var.state_dir

  gcp {
    project  = var.project
    zone     = var.zone
    endpoint = var.gcp_endpoint
  }
}

resource "aerolith_tenant" "acme" {
  organization = "Acme Corp"
  name         = "acme"
  tier         = "starter"
  email        = "ops@acme.example"
}

resource "aerolith_cluster" "shop" {
  name          = "tf-demo-gcp"
  cloud         = "gcp"
  region        = var.region
  node_count    = 3
  instance_type = "e2-standard-2"
  agent_url     = var.agent_url
  agent_sha256  = var.agent_sha256
  allowed_cidrs = ["127.0.0.0/8"]
  tenant_ids    = [aerolith_tenant.acme.id]
  insecure_http = var.insecure_http

  delete_protection = false
}

resource "aerolith_api_key" "app" {
  cluster = aerolith_cluster.shop.id
  tenant  = aerolith_tenant.acme.id
  role    = "readwrite"
}

output "endpoints" {
  value = aerolith_cluster.shop.endpoints
}

output "nodes" {
  value = aerolith_cluster.shop.nodes
}

output "api_key" {
  value     = aerolith_api_key.app.secret
  sensitive = true
}
