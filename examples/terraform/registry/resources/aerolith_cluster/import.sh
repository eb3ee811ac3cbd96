# By name; the cluster's files (admin key, CA) must be in the provider's
# state_dir, as `aerolith cluster create` or this provider left them.
terraform import aerolith_cluster.shop shop
