data "aerolith_tenant" "acme" {
  id = "tn_0123456789abcdefghij"
}
