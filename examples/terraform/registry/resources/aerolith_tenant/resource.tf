resource "aerolith_tenant" "acme" {
  organization = "Acme Corp"
  name         = "acme-prod"
  tier         = "starter" # changes in place, prorated by billing
  email        = "ops@acme.example"
}
