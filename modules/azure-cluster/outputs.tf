output "endpoints" {
  description = "The data API URL of each node."
  value       = [for ip in azurerm_public_ip.node : "${var.insecure_http ? "http" : "https"}://${ip.ip_address}:7070"]
}

output "node_ids" {
  description = "The agents' node ids, in order."
  value       = data.aerolith_cloud_init.node[*].node_id
}

output "node_addresses" {
  description = "The nodes' private addresses."
  value       = azurerm_network_interface.node[*].private_ip_address
}

output "resource_group" {
  description = "The cluster's resource group."
  value       = azurerm_resource_group.cluster.name
}
