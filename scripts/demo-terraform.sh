#!/usr/bin/env bash
# make demo-terraform: billing on loopback, the provider built here used
# through a dev_overrides CLI configuration, terraform apply of
# examples/terraform/local (a tenant, a 3-node local cluster, a key, an
# index), its outputs and a curl that writes a document with the key.
# Everything lives under $DEMO_DIR (default .demo-terraform, git-ignored);
# `scripts/demo-terraform.sh destroy` tears it down.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
TERRAFORM=${TERRAFORM:?set TERRAFORM to the terraform binary (make demo-terraform does)}
demo=${DEMO_DIR:-$root/.demo-terraform}
mkdir -p "$demo/bin" "$demo/billing" "$demo/state" "$demo/work"
cp -r "$root/examples/terraform/local/." "$demo/work/"
cat > "$demo/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "aerolithdb/aerolith" = "$root/bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$demo/terraformrc" CHECKPOINT_DISABLE=1
key_file="$demo/billing/admin-key"
[ -f "$key_file" ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$key_file"
export TF_VAR_billing_key="bk-$(cat "$key_file")"
export TF_VAR_agent_url="file://$root/bin/aerolith" TF_VAR_agent_sha256="$(sha256sum "$root/bin/aerolith" | cut -d' ' -f1)"
export TF_VAR_state_dir="$demo/state"
cd "$demo/work"
if [ "${1:-}" = destroy ]; then
  "$TERRAFORM" destroy -auto-approve
  [ -f "$demo/billing/pid" ] && kill "$(cat "$demo/billing/pid")" 2>/dev/null || true
  exit 0
fi
if ! curl -fsS http://127.0.0.1:7480/health >/dev/null 2>&1; then
  "$root/bin/aerolith" billing serve --node-id b1 --data-dir "$demo/billing/data" --http-addr 127.0.0.1:7480 \
    --raft-addr 127.0.0.1:7481 --admin-key "$TF_VAR_billing_key" --insecure-http >"$demo/billing/billing.log" 2>&1 &
  echo $! > "$demo/billing/pid"
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:7480/readyz >/dev/null 2>&1 && break; sleep 0.2; done
fi
"$TERRAFORM" apply -auto-approve
endpoint=$("$TERRAFORM" output -json endpoints | sed -E 's/^\["([^"]+)".*/\1/')
key=$("$TERRAFORM" output -raw api_key)
echo
echo "# write a document with the key Terraform made:"
cmd=(curl -sS -H "Authorization: Bearer $key" -H 'Content-Type: application/json'
  -d '{"data":{"customer":"c-42","total":1250}}' "$endpoint/api/v1/collections/orders/documents")
echo "curl -H 'Authorization: Bearer <api_key output>' -d '{\"data\":{\"customer\":\"c-42\",\"total\":1250}}' $endpoint/api/v1/collections/orders/documents"
"${cmd[@]}"
echo
echo "# tear down: TERRAFORM=$TERRAFORM scripts/demo-terraform.sh destroy"
