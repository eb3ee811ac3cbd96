// Aerolith tenants, clusters (local processes, AWS, GCP, Azure), API keys and indexes: the Aerolith Terraform provider, bridged
package aerolith
