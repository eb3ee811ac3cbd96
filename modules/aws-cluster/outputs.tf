output "endpoints" {
  description = "The data API URL of each node."
  value       = [for i in aws_instance.node : "${var.insecure_http ? "http" : "https"}://${i.public_ip}:7070"]
}

output "node_ids" {
  description = "The agents' node ids, in order."
  value       = data.aerolith_cloud_init.node[*].node_id
}

output "node_addresses" {
  description = "The nodes' private addresses."
  value       = aws_instance.node[*].private_ip
}

output "security_group_id" {
  description = "The cluster's security group."
  value       = aws_security_group.cluster.id
}
