# tflint (make tflint-modules, part of make test) for this module and for
# examples/terraform-modules/aws, which make passes this file with --config.
# The plugins carry no source/version: tflint takes the rulesets the
# Makefile built (tools/tflint) from TFLINT_PLUGIN_DIR, never downloads one,
# and needs no `tflint --init`.
config {
  # Lint module calls to local modules with the caller's values (the
  # examples call this module by path).
  call_module_type = "local"
}

# The terraform ruleset bundled in tflint: its recommended preset.
plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

# The official hashicorp/aws ruleset (tflint-ruleset-aws).
plugin "aws" {
  enabled = true
  # Deep checking asks the AWS API whether IDs (AMIs, subnets...) exist:
  # off, so the lint needs no credentials and no network.
  deep_check = false
}
