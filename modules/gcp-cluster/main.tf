# An Aerolith cluster on GCP: firewall rules and one instance per node
# made of hashicorp/google resources, each booting the user data the
# aerolith_cloud_init data source renders (in the user-data metadata key,
# which cloud-init reads on GCE).

locals {
  managed  = var.billing_url != null
  region   = join("-", slice(split("-", var.zone), 0, length(split("-", var.zone)) - 1))
  discover = local.managed ? null : "provider=gcp project=${var.project} zone=${var.zone} label_key=aerolith-cluster label_value=${var.name}"
  # The network tag the firewall rules select the cluster's nodes by.
  net_tag = "aerolith-${var.name}"
  labels = merge(var.labels, {
    "aerolith-cluster"    = var.name
    "aerolith-managed-by" = "aerolith"
  })
}

data "aerolith_cloud_init" "node" {
  count              = var.node_count
  cluster            = var.name
  cloud              = "gcp"
  region             = local.region
  node_index         = count.index + 1
  node_count         = var.node_count
  agent_url          = var.agent_url
  agent_sha256       = var.agent_sha256
  admin_key          = var.admin_key
  billing_url        = var.billing_url
  billing_ca         = var.billing_ca
  billing_cluster_id = var.billing_cluster_id
  enrollment_token   = var.enrollment_token
  discover           = local.discover
  insecure_http      = var.insecure_http
}

resource "google_compute_firewall" "raft" {
  name        = "aerolith-${var.name}-raft"
  project     = var.project
  network     = var.network
  description = "raft and agent to agent between the cluster's nodes"
  source_tags = [local.net_tag]
  target_tags = [local.net_tag]
  allow {
    protocol = "tcp"
    ports    = ["7070", "7071"]
  }
}

resource "google_compute_firewall" "api" {
  count         = length(var.allowed_cidrs) > 0 ? 1 : 0
  name          = "aerolith-${var.name}-api"
  project       = var.project
  network       = var.network
  description   = "data API clients"
  source_ranges = var.allowed_cidrs
  target_tags   = [local.net_tag]
  allow {
    protocol = "tcp"
    ports    = ["7070"]
  }
}

resource "google_compute_instance" "node" {
  count        = var.node_count
  name         = data.aerolith_cloud_init.node[count.index].node_id
  project      = var.project
  zone         = var.zone
  machine_type = var.machine_type
  tags         = [local.net_tag]
  labels       = merge(local.labels, { "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id })

  boot_disk {
    initialize_params {
      image = var.image
      size  = var.disk_gb
      type  = "pd-balanced"
    }
  }

  network_interface {
    network = var.network
    access_config {}
  }

  metadata = {
    "user-data" = data.aerolith_cloud_init.node[count.index].user_data
  }

  service_account {
    # compute.readonly: the agents list instances by label to find each other.
    scopes = ["https://www.googleapis.com/auth/compute.readonly"]
  }
}
