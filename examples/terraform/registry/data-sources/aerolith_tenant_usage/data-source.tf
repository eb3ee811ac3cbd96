data "aerolith_tenant_usage" "acme" {
  tenant_id = aerolith_tenant.acme.id
  from      = "2026-11-01T00:00:00Z"
  to        = "2026-12-01T00:00:00Z"
}
