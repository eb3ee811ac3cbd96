package main

// spec is one image this tool builds: which binary, from which module, and
// the runtime contract the Kubernetes manifests rely on. The Dockerfile at
// the repository root builds the same images with docker; TestDockerfileAgrees
// keeps the two in step.
type spec struct {
	// Name is the image's name under the registry and the binary's name.
	Name string
	// Module is the Go module directory (relative to the repository root)
	// the binary is built in, and Package its main package there.
	Module, Package string
	// Cmd is the default argument list (docker run without arguments).
	Cmd []string
	// Ports are the exposed ports, "7070/tcp".
	Ports []string
	// Volumes are the image's volume mount points; each is created in the
	// image owned by the non-root user.
	Volumes []string
	// Env is the image's environment, "NAME=value".
	Env []string
	// Title and Description are the OCI title and description labels.
	Title, Description string
}

// The user every image runs as (distroless's "nonroot"): the operator's
// pod templates set runAsUser and fsGroup to it.
const (
	uid      = 65532
	userName = "nonroot"
)

// binDir is where each image's binary lives; Entrypoint is binDir/Name.
const binDir = "/usr/local/bin"

// source is the OCI source label of every image.
const source = "https://github.com/aerolithdb/aerolith"

func (s spec) entrypoint() []string { return []string{binDir + "/" + s.Name} }

// specs are the project's images: the one aerolith binary (agent, billing,
// CLI; the operator's StatefulSet runs it with the argument "agent") and
// the operator.
var specs = []spec{
	{
		Name: "aerolith", Module: ".", Package: "./cmd/aerolith",
		Cmd:     []string{"agent"},
		Ports:   []string{"7070/tcp", "7071/tcp"},
		Volumes: []string{"/var/lib/aerolith"},
		Env:     []string{"AEROLITH_DATA_DIR=/var/lib/aerolith"},
		Title:   "aerolith",
		Description: "Aerolith node agent, billing service and CLI: a raft-replicated document database " +
			"(aerolith agent, aerolith billing serve)",
	},
	{
		Name: "aerolith-operator", Module: "operator", Package: "./cmd/aerolith-operator",
		Ports:       []string{"8080/tcp", "8081/tcp"},
		Title:       "aerolith-operator",
		Description: "Aerolith Kubernetes operator: reconciles AerolithCluster (aerolithdb.io/v1) resources",
	},
}
