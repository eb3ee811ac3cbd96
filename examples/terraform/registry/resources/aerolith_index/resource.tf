resource "aerolith_index" "orders_by_customer" {
  cluster    = aerolith_cluster.shop.id
  tenant     = aerolith_tenant.acme.id
  collection = "orders"
  field      = "customer.id"
}
