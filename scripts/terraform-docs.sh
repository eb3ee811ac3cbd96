#!/usr/bin/env bash
# make generate (docs-terraform): the provider's registry docs in
# provider/docs from its schema descriptions and
# examples/terraform/registry, with tfplugindocs. The schema comes from the
# provider built here through the Terraform CLI the Makefile built (a
# dev_overrides configuration): nothing is downloaded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${TERRAFORM:?set TERRAFORM (make generate does)}" "${TFPLUGINDOCS:?set TFPLUGINDOCS (make generate does)}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/bin/terraform-provider-aerolith" "$root/cmd/terraform-provider-aerolith"
cat > "$tmp/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "aerolithdb/aerolith" = "$tmp/bin"
  }
  direct {}
}
RC
mkdir -p "$tmp/cfg"
printf 'terraform {\n  required_providers {\n    aerolith = { source = "aerolithdb/aerolith" }\n  }\n}\n' > "$tmp/cfg/main.tf"
(cd "$tmp/cfg" && TF_CLI_CONFIG_FILE="$tmp/terraformrc" CHECKPOINT_DISABLE=1 "$TERRAFORM" providers schema -json 2>/dev/null) |
  # tfplugindocs finds a schema by short name or under hashicorp/ only.
  sed 's#"registry.terraform.io/aerolithdb/aerolith"#"aerolith"#' > "$tmp/schema.json"
cd "$root"
"$TFPLUGINDOCS" generate --provider-dir provider --provider-name aerolith --rendered-provider-name Aerolith \
  --providers-schema "$tmp/schema.json" --examples-dir ../examples/terraform/registry --rendered-website-dir docs
