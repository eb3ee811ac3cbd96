terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 3.0"
    }
    aerolith = {
      source  = "aerolithdb/aerolith"
      version = ">= 0.1.0"
    }
  }
}
