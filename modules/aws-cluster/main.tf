# An Aerolith cluster on AWS: the topology of `aerolith_cluster` with
# cloud = "aws", made of hashicorp/aws resources, each node booting the
# user data the aerolith_cloud_init data source renders (the renderer the
# provider, the CLI and the Pulumi stacks share).

locals {
  managed  = var.billing_url != null
  discover = local.managed ? null : "provider=aws region=${var.region} tag_key=aerolith-cluster tag_value=${var.name}"
  tags = merge(var.tags, {
    "aerolith-cluster"    = var.name
    "aerolith-managed-by" = "aerolith"
  })
}

data "aerolith_cloud_init" "node" {
  count              = var.node_count
  cluster            = var.name
  cloud              = "aws"
  region             = var.region
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

resource "aws_security_group" "cluster" {
  name        = "aerolith-${var.name}"
  description = "Aerolith cluster ${var.name}: raft between members, data API from allowed CIDRs"
  vpc_id      = var.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.cluster.id
  description       = "agent downloads, billing, cloud API"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "raft" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "raft between the cluster's nodes"
  referenced_security_group_id = aws_security_group.cluster.id
  ip_protocol                  = "tcp"
  from_port                    = 7071
  to_port                      = 7071
}

resource "aws_vpc_security_group_ingress_rule" "api_members" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "agent to agent (join, liveness)"
  referenced_security_group_id = aws_security_group.cluster.id
  ip_protocol                  = "tcp"
  from_port                    = 7070
  to_port                      = 7070
}

resource "aws_vpc_security_group_ingress_rule" "api" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.cluster.id
  description       = "data API clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 7070
  to_port           = 7070
}

resource "aws_instance" "node" {
  count                  = var.node_count
  ami                    = var.image
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = [aws_security_group.cluster.id]
  user_data_base64       = base64encode(data.aerolith_cloud_init.node[count.index].user_data)

  root_block_device {
    volume_size           = var.disk_gb
    volume_type           = "gp3"
    encrypted             = true
    delete_on_termination = true
  }

  metadata_options {
    http_tokens = "required"
  }

  tags = merge(local.tags, {
    "Name"          = data.aerolith_cloud_init.node[count.index].node_id
    "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id
  })
  volume_tags = merge(local.tags, {
    "aerolith-node" = data.aerolith_cloud_init.node[count.index].node_id
  })
}
