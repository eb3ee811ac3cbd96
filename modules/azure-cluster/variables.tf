variable "name" {
  description = "The cluster's name: 3-40 of a-z, 0-9 and -, starting with a letter. Every resource is named and tagged after it."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,39}$", var.name))
    error_message = "name: 3-40 of a-z, 0-9 and -, starting with a letter."
  }
}

variable "node_count" {
  description = "Voting members: 1, 3, 5 or 7."
  type        = number
  default     = 3
  validation {
    condition     = contains([1, 3, 5, 7], var.node_count)
    error_message = "node_count: 1, 3, 5 or 7."
  }
}

variable "disk_gb" {
  description = "Each node's root (data) volume in GiB, 10-16384."
  type        = number
  default     = 50
  validation {
    condition     = var.disk_gb >= 10 && var.disk_gb <= 16384
    error_message = "disk_gb: 10-16384."
  }
}

variable "agent_url" {
  description = "Where the nodes download the aerolith binary (https://)."
  type        = string
}

variable "agent_sha256" {
  description = "The SHA-256 (hex) of the binary at agent_url; a node refuses any other."
  type        = string
}

variable "admin_key" {
  description = "The cluster admin key, at least 16 characters."
  type        = string
  sensitive   = true
}

variable "allowed_cidrs" {
  description = "CIDRs that may reach the data API (port 7070). Raft (7071) is only ever open between the cluster's own nodes."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_cidrs: every entry must be an IPv4 CIDR such as 203.0.113.0/24."
  }
}

variable "billing_url" {
  description = "A managed cluster: billing's URL (null: an unmanaged cluster that discovers its nodes by tag)."
  type        = string
  default     = null
}

variable "billing_cluster_id" {
  description = "A managed cluster: the id billing registered it under."
  type        = string
  default     = null
}

variable "billing_ca" {
  description = "A managed cluster: the PEM bundle the nodes verify billing with (null: the system roots)."
  type        = string
  default     = null
}

variable "enrollment_token" {
  description = "A managed cluster: the enrollment token billing issued."
  type        = string
  default     = null
  sensitive   = true
}

variable "insecure_http" {
  description = "Run the agents on plain HTTP (unmanaged clusters have no other way to certificates; throwaway clusters only)."
  type        = bool
  default     = false
}


variable "location" {
  description = "The Azure location, e.g. westeurope; the agents discover each other in it."
  type        = string
}

variable "vm_size" {
  description = "The VM size of every node."
  type        = string
  default     = "Standard_D2s_v5"
}

variable "image" {
  description = "The image as publisher:offer:sku:version."
  type        = string
  default     = "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"
}

variable "address_space" {
  description = "The virtual network's address space; the subnet is its first /24."
  type        = string
  default     = "10.70.0.0/16"
}

variable "ssh_public_key" {
  description = "The OpenSSH public key of the VMs' admin user (Azure requires one)."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource (keys may not start with aerolith-)."
  type        = map(string)
  default     = {}
}
