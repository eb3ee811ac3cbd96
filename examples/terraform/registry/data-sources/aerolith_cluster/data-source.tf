data "aerolith_cluster" "shop" {
  name = "shop"
}
