# A tenant, a 3-node local cluster serving it, an API key and an index,
# against a billing service on this machine. `make demo-terraform` runs it
# (it starts billing and points Terraform at the provider built here).

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

variable "agent_url" {
  description = "file:// URL of the aerolith binary the nodes run"
  type        = string
}

variable "agent_sha256" {
  type = string
}

variable "state_dir" {
  type = string
}

provider "aerolith" {
  billing_url = var.billing_url
  billing_key = var.billing_key
  state_dir   = var.state_dir
}

resource "aerolith_tenant" "acme" {
  organization = "Acme Corp"
  name         = "acme"
  tier         = "starter"
  email        = "ops@acme.example"
}

resource "aerolith_cluster" "shop" {
  name         = "tf-demo"
  cloud        = "local"
  node_count   = 3
  agent_url    = var.agent_url
  agent_sha256 = var.agent_sha256
  tenant_ids   = [aerolith_tenant.acme.id]

  # A demo on loopback: plain HTTP (billing here runs without TLS too) and
  # `terraform destroy` may remove it. Leave both out for real clusters:
  # nodes then get certificates from the cluster's CA (ca_certificate).
  insecure_http     = true
  delete_protection = false
}

resource "aerolith_api_key" "app" {
  cluster = aerolith_cluster.shop.id
  tenant  = aerolith_tenant.acme.id
  role    = "readwrite"
  name    = "demo-app"
}

resource "aerolith_index" "orders_by_customer" {
  cluster    = aerolith_cluster.shop.id
  tenant     = aerolith_tenant.acme.id
  collection = "orders"
  field      = "customer"
}

output "tenant_id" {
  value = aerolith_tenant.acme.id
}

output "endpoints" {
  value = aerolith_cluster.shop.endpoints
}

output "api_key" {
  value     = aerolith_api_key.app.secret
  sensitive = true
}
