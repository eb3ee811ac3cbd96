provider "aerolith" {
  billing_url = "https://billing.example.com:7080" # or AEROLITH_BILLING_URL
  billing_key = var.billing_key                    # or AEROLITH_BILLING_KEY
  ca_file     = "billing-ca.pem"

  aws {
    region = "eu-west-1" # credentials: the standard AWS environment and files
  }
}
