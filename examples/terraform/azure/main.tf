# A tenant and a 3-node cluster on Azure serving it, with a key. Against
# the offline simulator (aerolith cloudsim serve, which speaks Azure
# Resource Manager, issues managed-identity tokens and boots every VM from
# its custom data) in one command:
#
#   make demo-terraform EXAMPLE=azure
#
# Against Azure itself: leave azure_endpoint empty, set subscription_id,
# take credentials from the standard Azure environment (azidentity:
# AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, a managed identity
# or the az CLI), serve billing over TLS (billing_ca_file) and drop
# insecure_http. To put the cluster into a resource group you own (its
# policies, its RBAC), set resource_group: the group must exist, and
# destroy leaves it.

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

variable "subscription_id" {
  description = "Azure subscription of the cluster (null: AZURE_SUBSCRIPTION_ID)"
  type        = string
  default     = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "resource_group" {
  description = "An existing resource group to create the cluster in (one you own and govern; never deleted with the cluster); null: a group of the cluster's own, aerolith-<cluster name>, deleted with it"
  type        = string
  default     = null
}

variable "azure_endpoint" {
  description = "Azure Resource Manager endpoint override (the simulator); null for Azure"
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

  azure {
    subscription_id = var.subscription_id
    location        = var.location
    endpoint        = var.azure_endpoint
  }
}

resource "aerolith_tenant" "acme" {
  organization = "Acme Corp"
  name         = "acme"
  tier         = "starter"
  email        = "ops@acme.example"
}

resource "aerolith_cluster" "shop" {
  name           = "tf-demo-azure"
  cloud          = "azure"
  node_count     = 3
  instance_type  = "Standard_D2s_v5"
  agent_url      = var.agent_url
  agent_sha256   = var.agent_sha256
  allowed_cidrs  = ["127.0.0.0/8"]
  tenant_ids     = [aerolith_tenant.acme.id]
  insecure_http  = var.insecure_http
  resource_group = var.resource_group

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

output "resource_group" {
  value = aerolith_cluster.shop.resource_group
}

output "nodes" {
  value = aerolith_cluster.shop.nodes
}

output "api_key" {
  value     = aerolith_api_key.app.secret
  sensitive = true
}
