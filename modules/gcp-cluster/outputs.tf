output "endpoints" {
  description = "The data API URL of each node."
  value       = [for i in google_compute_instance.node : "${var.insecure_http ? "http" : "https"}://${i.network_interface[0].access_config[0].nat_ip}:7070"]
}

output "node_ids" {
  description = "The agents' node ids, in order."
  value       = data.aerolith_cloud_init.node[*].node_id
}

output "node_addresses" {
  description = "The nodes' private addresses."
  value       = google_compute_instance.node[*].network_interface[0].network_ip
}
