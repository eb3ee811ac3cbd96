resource "aerolith_api_key" "app" {
  cluster = aerolith_cluster.shop.id
  tenant  = aerolith_tenant.acme.id
  role    = "readwrite"
  name    = "checkout-service"
}

output "app_key" {
  value     = aerolith_api_key.app.secret
  sensitive = true
}
