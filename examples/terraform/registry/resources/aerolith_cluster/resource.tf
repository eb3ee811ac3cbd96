resource "aerolith_cluster" "shop" {
  name          = "shop"
  cloud         = "aws"
  region        = "eu-west-1"
  node_count    = 3 # 1, 3, 5 or 7; changes in place
  instance_type = "t3.medium"
  disk_gb       = 50
  agent_url     = "https://releases.example.com/aerolith-linux-amd64"
  agent_sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  allowed_cidrs = ["203.0.113.0/24"]
  tenant_ids    = [aerolith_tenant.acme.id] # changes in place
  tags          = { team = "platform" }

  timeouts {
    create = "30m"
  }
}
