#!/usr/bin/env bash
# make demo-terraform [EXAMPLE=local|aws|gcp|azure]: billing on loopback, the
# provider built here used through a dev_overrides CLI configuration,
# terraform apply of examples/terraform/$EXAMPLE (local: a tenant, a 3-node
# local cluster, a key, an index; aws, gcp, azure: the same on the cloud
# simulator, `aerolith cloudsim serve`, which speaks EC2, Compute Engine
# and Azure Resource Manager and boots every instance from its user data;
# gcp authenticates with the service account key file it writes, azure
# with its managed-identity endpoint), its outputs and a curl that writes a document with the key.
# Everything lives under $DEMO_DIR (default .demo-terraform-$EXAMPLE,
# git-ignored); `scripts/demo-terraform.sh destroy` tears it down.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
TERRAFORM=${TERRAFORM:?set TERRAFORM to the terraform binary (make demo-terraform does)}
example=${EXAMPLE:-local}
demo=${DEMO_DIR:-$root/.demo-terraform-$example}
mkdir -p "$demo/bin" "$demo/billing" "$demo/state" "$demo/work"
cp -r "$root/examples/terraform/$example/." "$demo/work/"
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
if [ "$example" = aws ]; then
  # The simulator takes any credentials, from the standard environment.
  export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=simulated AWS_EC2_METADATA_DISABLED=true
  export TF_VAR_aws_endpoint=http://127.0.0.1:4566 TF_VAR_insecure_http=true
fi
if [ "$example" = gcp ]; then
  # The key file's token_uri is the simulator (written when it starts).
  export GOOGLE_APPLICATION_CREDENTIALS="$demo/sim/gcp-key.json"
  export TF_VAR_gcp_endpoint=http://127.0.0.1:4566 TF_VAR_insecure_http=true
fi
if [ "$example" = azure ]; then
  # azidentity's managed identity (App Service shape) is the simulator's.
  export IDENTITY_ENDPOINT=http://127.0.0.1:4566/msi/token IDENTITY_HEADER=demo
  unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE MSI_ENDPOINT
  export TF_VAR_azure_endpoint=http://127.0.0.1:4566 TF_VAR_insecure_http=true
fi
cd "$demo/work"
if [ "${1:-}" = destroy ]; then
  "$TERRAFORM" destroy -auto-approve
  for p in "$demo"/*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  exit 0
fi
if [ "$example" != local ] && ! (exec 3<>/dev/tcp/127.0.0.1/4566) 2>/dev/null; then
  mkdir -p "$demo/sim"
  "$root/bin/aerolith" cloudsim serve --addr 127.0.0.1:4566 --data-dir "$demo/sim/data" \
    --gcp-key-file "$demo/sim/gcp-key.json" --gcp-project aerolith-sim >"$demo/sim/cloudsim.log" 2>&1 &
  echo $! > "$demo/sim/pid"
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/4566) 2>/dev/null && break; sleep 0.2; done
fi
if ! curl -fsS http://127.0.0.1:7480/health >/dev/null 2>&1; then
  "$root/bin/aerolith" billing serve --node-id b1 --data-dir "$demo/billing/data" --http-addr 127.0.0.1:7480 \
    --raft-addr 127.0.0.1:7481 --admin-key "$TF_VAR_billing_key" --insecure-http >"$demo/billing/billing.log" 2>&1 &
  echo $! > "$demo/billing/pid"
  for _ in $(seq 100); do curl -fsS http://127.0.0.1:7480/readyz >/dev/null 2>&1 && break; sleep 0.2; done
fi
"$TERRAFORM" apply -auto-approve -input=false
endpoint=$("$TERRAFORM" output -json endpoints | sed -E 's/^\["([^"]+)".*/\1/')
key=$("$TERRAFORM" output -raw api_key)
echo
echo "# write a document with the key Terraform made:"
cmd=(curl -sS -H "Authorization: Bearer $key" -H 'Content-Type: application/json'
  -d '{"data":{"customer":"c-42","total":1250}}' "$endpoint/api/v1/collections/orders/documents")
echo "curl -H 'Authorization: Bearer <api_key output>' -d '{\"data\":{\"customer\":\"c-42\",\"total\":1250}}' $endpoint/api/v1/collections/orders/documents"
"${cmd[@]}"
echo
echo "# tear down: EXAMPLE=$example TERRAFORM=$TERRAFORM scripts/demo-terraform.sh destroy"
