resource "aerolith_collection" "orders" {
  cluster = aerolith_cluster.shop.id
  tenant  = aerolith_tenant.acme.id
  name    = "orders"
  # Destroying the collection drops its documents: delete_protection stays
  # true (the default) until you mean to.
}
