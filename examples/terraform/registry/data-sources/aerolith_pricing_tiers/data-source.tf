data "aerolith_pricing_tiers" "all" {}
