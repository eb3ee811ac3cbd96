#!/usr/bin/env bash
# make demo-pulumi: billing on loopback, then a real `pulumi up` of
# examples/pulumi/local (TypeScript) with the Pulumi CLI and Node.js
# language host from .tools and pulumi-resource-aerolith built here: a
# tenant, a 3-node local cluster, a key, a collection and an index. Prints
# the stack's outputs (secrets as [secret]) and writes a document with the
# key, then `pulumi destroy`; an exit, a failure or Ctrl-C anywhere
# destroys what exists, stops billing and removes the demo's folder.
#
# Everything lives in a temporary folder, so nothing is written into the
# checkout: a copy of the program, the file backend, PULUMI_HOME (the
# provider installed there as a plugin), the stack's configuration,
# billing's data and the cluster's records.
#   NODES=N            node count (default 3; the provider takes 1, 3, 5 or 7)
#   BILLING_PORT=P     billing's HTTP port (default 7580; raft P+1)
#   KEEP=1             wait for Enter before destroying (the default on a terminal)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PULUMI=${PULUMI:?set PULUMI to the pulumi binary (make demo-pulumi does)}
BIN=${BIN:-$root/bin}
nodes=${NODES:-3}
port=${BILLING_PORT:-7580}
program=$root/examples/pulumi/local
[ -x "$BIN/aerolith" ] && [ -x "$BIN/pulumi-resource-aerolith" ] ||
	{ echo "demo-pulumi: needs $BIN/aerolith and $BIN/pulumi-resource-aerolith: run make demo-pulumi" >&2; exit 1; }
[ -d "$program/node_modules/@aerolithdb/aerolith" ] ||
	{ echo "demo-pulumi: $program/node_modules is missing: run make check-sdk-nodejs (make demo-pulumi does)" >&2; exit 1; }
if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
	echo "demo-pulumi: something already serves 127.0.0.1:$port; stop it or pick another BILLING_PORT" >&2
	exit 1
fi

demo=$(mktemp -d -t aerolith-demo-pulumi-XXXXXX)
stack=demo
billing_pid=
created=
status=1
interrupted=
cleanup() {
	trap - EXIT INT TERM
	destroyed=1
	if [ -n "$created" ]; then
		echo
		echo "# pulumi destroy"
		(cd "$demo/program" && "$PULUMI" destroy --yes --non-interactive --stack "$stack") || { destroyed=; status=1; }
	fi
	[ -n "$billing_pid" ] && kill "$billing_pid" 2>/dev/null && wait "$billing_pid" 2>/dev/null
	# The folder goes once nothing of the demo is left running; a failed
	# destroy keeps it (the state and the logs) to retry from.
	if [ -n "$destroyed" ]; then
		rm -rf "$demo"
		if [ "$status" = 0 ]; then
			echo "# demo-pulumi: destroyed, billing stopped, $demo removed"
		else
			echo "demo-pulumi: failed or interrupted (see above); what it made is destroyed, billing stopped" >&2
		fi
	else
		echo "demo-pulumi: destroy failed; state and logs kept in $demo (billing: $demo/billing.log)" >&2
	fi
	[ -n "$interrupted" ] && exit 130
	exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "# interrupted"; interrupted=1; cleanup' INT TERM

key="bk-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# A session of its own: Ctrl-C reaches this script and pulumi, and billing
# keeps serving until the destroy that follows has deregistered the cluster.
setsid "$BIN/aerolith" billing serve --node-id b1 --data-dir "$demo/billing" --http-addr "127.0.0.1:$port" \
	--raft-addr "127.0.0.1:$((port + 1))" --admin-key "$key" --insecure-http >"$demo/billing.log" 2>&1 &
billing_pid=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "demo-pulumi: billing did not get ready; see $demo/billing.log" >&2; exit 1; }
echo "# billing on http://127.0.0.1:$port (log: $demo/billing.log)"

export PULUMI_BACKEND_URL="file://$demo/backend" PULUMI_HOME="$demo/home"
export PULUMI_CONFIG_PASSPHRASE="demo-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PULUMI_SKIP_UPDATE_CHECK=1 PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=1
mkdir -p "$demo/backend" "$demo/program"
# The program runs from a copy of its folder (its node_modules linked), as
# `pulumi stack init` writes the stack's file beside Pulumi.yaml.
find "$program" -maxdepth 1 -type f ! -name 'Pulumi.*.yaml' -exec cp {} "$demo/program/" \;
ln -s "$program/node_modules" "$demo/program/node_modules"
cd "$demo/program"
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$root/stacks/provider/info.go")
"$PULUMI" plugin install resource aerolith "$version" --file "$BIN/pulumi-resource-aerolith" >/dev/null
"$PULUMI" stack init "$stack" >/dev/null
cfg=(--stack "$stack")
"$PULUMI" config set "${cfg[@]}" aerolith:billingUrl "http://127.0.0.1:$port"
"$PULUMI" config set "${cfg[@]}" --secret aerolith:billingKey "$key"
"$PULUMI" config set "${cfg[@]}" aerolith:stateDir "$demo/state"
"$PULUMI" config set "${cfg[@]}" agentUrl "file://$BIN/aerolith"
"$PULUMI" config set "${cfg[@]}" agentSha256 "$(sha256sum "$BIN/aerolith" | cut -d' ' -f1)"
"$PULUMI" config set "${cfg[@]}" insecureHttp true # billing here serves plain HTTP
"$PULUMI" config set "${cfg[@]}" nodeCount "$nodes"

echo "# pulumi up (examples/pulumi/local, $nodes nodes)"
created=1
"$PULUMI" up --yes --non-interactive "${cfg[@]}"
echo
echo "# pulumi stack output"
"$PULUMI" stack output --stack "$stack"
endpoint=$("$PULUMI" stack output --stack "$stack" --json endpoints | tr -d ' \n' | sed -E 's/^\["([^"]+)".*/\1/')
apikey=$("$PULUMI" stack output --stack "$stack" --show-secrets apiKey)
echo
echo "# write a document with the key the program made (the apiKey output):"
echo "AEROLITH_URL=$endpoint AEROLITH_KEY=\$(pulumi stack output --show-secrets apiKey) bin/aerolith doc put orders --data '{\"customer\":\"c-42\",\"total\":1250}'"
AEROLITH_URL=$endpoint AEROLITH_KEY=$apikey "$BIN/aerolith" doc put orders --data '{"customer":"c-42","total":1250}'
echo "# or: curl -H \"Authorization: Bearer \$key\" -d '{\"data\":{\"customer\":\"c-7\"}}' $endpoint/api/v1/collections/orders/documents"
if [ "${KEEP:-}" = 1 ] || { [ -z "${KEEP:-}" ] && [ -t 0 ]; }; then
	echo
	echo "# the cluster keeps running; in another shell, from $demo/program:"
	echo "#   PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL PULUMI_HOME=$PULUMI_HOME PULUMI_CONFIG_PASSPHRASE=$PULUMI_CONFIG_PASSPHRASE $PULUMI stack output --stack $stack --show-secrets"
	read -r -p "press Enter to destroy it (Ctrl-C also destroys) " _ || true
fi
status=0
