#!/usr/bin/env bash
# make demo-pulumi [EXAMPLE=local|aws|gcp|azure]: billing on loopback, then
# a real `pulumi up` of examples/pulumi/$EXAMPLE (TypeScript) with the
# Pulumi CLI and Node.js language host from .tools and
# pulumi-resource-aerolith built here. local: a tenant, a 3-node local
# cluster, a key, a collection and an index. aws, gcp, azure: a tenant, a
# managed 3-node cluster, a key and a collection on the cloud simulator
# (`aerolith cloudsim serve`, which speaks EC2, Compute Engine and Azure
# Resource Manager and boots every instance from its user data into a real
# agent): the program's endpoint setting is the simulator, the cloud's
# credentials are the simulator's (as demo-terraform sets them), and the
# agent binary is downloaded by the instances over HTTP from a loopback
# server standing in for the release download. Prints the stack's outputs
# (secrets as [secret]) and writes a document with the key, then `pulumi
# destroy`; an exit, a failure or Ctrl-C anywhere destroys what exists,
# stops the simulator and billing and removes the demo's folder.
#
# Everything lives in a temporary folder, so nothing is written into the
# checkout: a copy of the program, the file backend, PULUMI_HOME (the
# provider installed there as a plugin), the stack's configuration,
# billing's data, the simulator's instances and the cluster's records.
#   EXAMPLE=E          local (default), aws, gcp or azure
#   NODES=N            node count (default 3; the provider takes 1, 3, 5 or 7)
#   REGION=R           aws, gcp: the region; azure: the location (the
#                      provider names the regions it knows when refused)
#   BILLING_PORT=P     billing's HTTP port (default 7580; raft P+1)
#   SIM_PORT=P         the simulator's port (default 4576)
#   KEEP=1             wait for Enter before destroying (the default on a terminal)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
PULUMI=${PULUMI:?set PULUMI to the pulumi binary (make demo-pulumi does)}
BIN=${BIN:-$root/bin}
example=${EXAMPLE:-local}
nodes=${NODES:-3}
port=${BILLING_PORT:-7580}
sim_port=${SIM_PORT:-4576}
case $example in
local) [ -z "${REGION:-}" ] || { echo "demo-pulumi: REGION: the local example has no region (EXAMPLE=aws, gcp or azure)" >&2; exit 1; } ;;
aws | gcp | azure) ;;
*) echo "demo-pulumi: EXAMPLE=$example: want local, aws, gcp or azure" >&2; exit 1 ;;
esac
program=$root/examples/pulumi/$example
[ -x "$BIN/aerolith" ] && [ -x "$BIN/pulumi-resource-aerolith" ] ||
	{ echo "demo-pulumi: needs $BIN/aerolith and $BIN/pulumi-resource-aerolith: run make demo-pulumi" >&2; exit 1; }
[ -d "$program/node_modules/@aerolithdb/aerolith" ] ||
	{ echo "demo-pulumi: $program/node_modules is missing: run make check-sdk-nodejs (make demo-pulumi does)" >&2; exit 1; }
if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
	echo "demo-pulumi: something already serves 127.0.0.1:$port; stop it or pick another BILLING_PORT" >&2
	exit 1
fi
if [ "$example" != local ] && (exec 3<>"/dev/tcp/127.0.0.1/$sim_port") 2>/dev/null; then
	echo "demo-pulumi: something already listens on 127.0.0.1:$sim_port; stop it or pick another SIM_PORT" >&2
	exit 1
fi

demo=$(mktemp -d -t aerolith-demo-pulumi-XXXXXX)
stack=demo
billing_pid=
sim_pid=
files_pid=
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
	# The simulator stops the agents it booted; billing goes last, as the
	# destroy above needed it.
	for pid in $sim_pid $files_pid $billing_pid; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true # (node ends by the signal: status 143)
	done
	# The folder goes once nothing of the demo is left running; a failed
	# destroy keeps it (the state and the logs) to retry from.
	if [ -n "$destroyed" ]; then
		rm -rf "$demo"
		if [ "$status" = 0 ]; then
			echo "# demo-pulumi: destroyed, billing (and the simulator) stopped, $demo removed"
		else
			echo "demo-pulumi: failed or interrupted (see above); what it made is destroyed, billing stopped" >&2
		fi
	else
		echo "demo-pulumi: destroy failed; state and logs kept in $demo (billing: $demo/billing.log, simulator: $demo/cloudsim.log)" >&2
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

sim=http://127.0.0.1:$sim_port
if [ "$example" != local ]; then
	setsid "$BIN/aerolith" cloudsim serve --addr "127.0.0.1:$sim_port" --data-dir "$demo/sim" \
		--gcp-key-file "$demo/gcp-key.json" --gcp-project aerolith-sim >"$demo/cloudsim.log" 2>&1 &
	sim_pid=$!
	# The release download: the instances fetch the agent over HTTP, as from
	# a real release URL, and check its sha256 before they run it.
	setsid node -e '
		const http = require("http"), fs = require("fs"), file = process.argv[1];
		const srv = http.createServer((req, res) => {
			if (req.method !== "GET" || req.url !== "/releases/aerolith") { res.writeHead(404); res.end(); return; }
			res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": fs.statSync(file).size });
			fs.createReadStream(file).pipe(res);
		});
		srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));' "$BIN/aerolith" >"$demo/files.port" 2>"$demo/files.log" &
	files_pid=$!
	for _ in $(seq 100); do
		[ -s "$demo/files.port" ] && [ -s "$demo/gcp-key.json" ] && (exec 3<>"/dev/tcp/127.0.0.1/$sim_port") 2>/dev/null && break
		sleep 0.2
	done
	[ -s "$demo/files.port" ] || { echo "demo-pulumi: the agent download server did not start; see $demo/files.log" >&2; exit 1; }
	(exec 3<>"/dev/tcp/127.0.0.1/$sim_port") 2>/dev/null || { echo "demo-pulumi: the simulator did not start; see $demo/cloudsim.log" >&2; exit 1; }
	agent_url=http://127.0.0.1:$(cat "$demo/files.port")/releases/aerolith
	echo "# cloud simulator on $sim (log: $demo/cloudsim.log); the agent served at $agent_url"
	# The provider (a process the CLI starts) finds the cloud's credentials
	# in the standard environment, as against the real cloud.
	case $example in
	aws) export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=simulated AWS_EC2_METADATA_DISABLED=true ;;
	gcp) export GOOGLE_APPLICATION_CREDENTIALS="$demo/gcp-key.json" ;; # its token_uri is the simulator
	azure)
		# azidentity's managed identity (App Service shape) is the simulator's.
		export IDENTITY_ENDPOINT=$sim/msi/token IDENTITY_HEADER=demo
		unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID AZURE_FEDERATED_TOKEN_FILE MSI_ENDPOINT
		;;
	esac
fi

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
set_config() { "$PULUMI" config set "${cfg[@]}" "$@"; }
if [ "$example" = local ]; then
	# The local program leaves billing to the provider's own configuration.
	set_config aerolith:billingUrl "http://127.0.0.1:$port"
	set_config --secret aerolith:billingKey "$key"
	set_config aerolith:stateDir "$demo/state"
	set_config agentUrl "file://$BIN/aerolith"
else
	set_config billingUrl "http://127.0.0.1:$port"
	set_config --secret billingKey "$key"
	set_config stateDir "$demo/state"
	set_config endpoint "$sim"
	set_config agentUrl "$agent_url"
	set_config --path 'allowedCidrs[0]' 127.0.0.0/8 # the simulator's instances are loopback addresses
	case $example in
	gcp) set_config project aerolith-sim ;; # the project of the simulator's key file
	azure) set_config subscriptionId 0b1f6471-1bf0-4dda-aec3-cb9272f09590 ;; # the simulator takes any
	esac
	if [ -n "${REGION:-}" ]; then
		if [ "$example" = azure ]; then set_config location "$REGION"; else set_config region "$REGION"; fi
	fi
	set_config clusterName "pulumi-demo-$example"
fi
set_config agentSha256 "$(sha256sum "$BIN/aerolith" | cut -d' ' -f1)"
set_config insecureHttp true # billing here serves plain HTTP
set_config nodeCount "$nodes"

echo "# pulumi up (examples/pulumi/$example, $nodes nodes)"
created=1
"$PULUMI" up --yes --non-interactive "${cfg[@]}"
echo
echo "# pulumi stack output"
"$PULUMI" stack output --stack "$stack"
endpoint=$("$PULUMI" stack output --stack "$stack" --json endpoints | tr -d ' \n' | sed -E 's/^\["([^"]+)".*/\1/')
apikey=$("$PULUMI" stack output --stack "$stack" --show-secrets apiKey)
echo
[ "$example" = local ] || echo "# the simulator's instances: curl -s $sim/_sim/instances"
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
