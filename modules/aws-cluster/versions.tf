terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    aerolith = {
      source  = "aerolithdb/aerolith"
      version = ">= 0.1.0"
    }
  }
}
