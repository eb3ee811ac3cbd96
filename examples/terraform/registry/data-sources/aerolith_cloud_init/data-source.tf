# User data for VMs a module launches itself: node 1 of a 3-node managed
# cluster registered in billing.
data "aerolith_cloud_init" "n1" {
  cluster            = "shop"
  cloud              = "aws"
  region             = "eu-west-1"
  node_index         = 1
  node_count         = 3
  agent_url          = "https://releases.example.com/aerolith-linux-amd64"
  agent_sha256       = "0000000000000000000000000000000000000000000000000000000000000000"
  admin_key          = var.cluster_admin_key
  billing_url        = "https://billing.example.com:7080"
  billing_cluster_id = var.billing_cluster_id
  enrollment_token   = var.enrollment_token
}
