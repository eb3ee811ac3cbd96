// Package provider bridges the Aerolith Terraform provider (package
// provider of the main module, terraform-plugin-framework) into a Pulumi
// resource provider with pulumi-terraform-bridge's pkg/pf: one codebase,
// every resource and data source, the same plan-time validation. The
// token of every Terraform type is listed here explicitly so that a type
// the Terraform provider adds fails TestEveryTerraformTypeIsMapped instead
// of silently missing from the SDKs.
package provider

import (
	"bytes"
	"context"
	_ "embed"
	"strings"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	tfprovider "github.com/aerolithdb/aerolith/provider"
)

// Name is the Pulumi package name; the plugin binary is pulumi-resource-<Name>.
const Name = "aerolith"

// GoImportBase is where the generated Go SDK lives.
const GoImportBase = "github.com/aerolithdb/aerolith/stacks/sdk/go/aerolith"

// Version of the bridged provider and its SDKs. The plugin reports it and
// the SDKs request it; the generated files carry it, so it changes only
// with a regeneration (make generate).
const Version = "0.1.0"

// Schema is the Pulumi package schema tfgen generated (make generate).
//
//go:embed schema.json
var Schema []byte

// resource and dataSource make the standard tokens (aerolith:index/apiKey:ApiKey):
// the module part names the file each SDK puts the type in.
func resource(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tokens.Type(Name + ":index/" + lowerFirst(name) + ":" + name)}
}

func dataSource(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(Name + ":index/" + name + ":" + name)}
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }

// Info is the bridge's description of the provider: the Terraform
// provider at version Version and the Pulumi token of each of its types.
func Info() tfbridge.ProviderInfo {
	return tfbridge.ProviderInfo{
		Name:              Name,
		P:                 pftfbridge.ShimProviderWithContext(context.Background(), tfprovider.New(Version)()),
		Version:           Version,
		DisplayName:       "Aerolith",
		Publisher:         "aerolithdb",
		Description:       "Aerolith tenants, clusters (local processes, AWS, GCP, Azure), API keys and indexes: the Aerolith Terraform provider, bridged",
		Keywords:          []string{"pulumi", "aerolith", "database", "category/database"},
		License:           "Apache-2.0",
		Homepage:          "https://github.com/aerolithdb/aerolith",
		Repository:        "https://github.com/aerolithdb/aerolith",
		GitHubOrg:         "aerolithdb",
		TFProviderVersion: Version,
		UpstreamRepoPath:  ".",
		Resources: map[string]*tfbridge.ResourceInfo{
			"aerolith_tenant":     resource("Tenant"),
			"aerolith_cluster":    resource("Cluster"),
			"aerolith_api_key":    resource("ApiKey"),
			"aerolith_index":      resource("Index"),
			"aerolith_collection": resource("Collection"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"aerolith_pricing_tiers": dataSource("getPricingTiers"),
			"aerolith_tenant":        dataSource("getTenant"),
			"aerolith_tenant_usage":  dataSource("getTenantUsage"),
			"aerolith_cluster":       dataSource("getCluster"),
			"aerolith_cloud_init":    dataSource("getCloudInit"),
		},
		JavaScript: &tfbridge.JavaScriptInfo{
			PackageName:  "@aerolithdb/aerolith",
			Dependencies: map[string]string{"@pulumi/pulumi": "^3.0.0"},
		},
		Python: &tfbridge.PythonInfo{
			PackageName: "pulumi_aerolith",
			Requires:    map[string]string{"pulumi": ">=3.0.0,<4.0.0"},
		},
		Golang: &tfbridge.GolangInfo{
			ImportBasePath:                 GoImportBase,
			GenerateResourceContainerTypes: true,
		},
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		// tfgen reads the docs tfplugindocs writes for the Terraform
		// provider (provider/docs: make generate points UpstreamRepoPath at
		// it), so the schema and the SDKs carry the same descriptions.
		DocRules: &tfbridge.DocRuleInfo{EditRules: func(defaults []tfbridge.DocsEdit) []tfbridge.DocsEdit {
			return append([]tfbridge.DocsEdit{
				{Path: "*", Edit: dropExamples},
				{Path: "*", Edit: pulumiWords},
			}, defaults...)
		}},
	}
}

// pulumiWords says in Pulumi's words what the Terraform docs say in
// Terraform's (tfgen drops any paragraph that names Terraform).
func pulumiWords(_ string, doc []byte) ([]byte, error) {
	for _, r := range [][2]string{
		{"outside Terraform", "outside Pulumi"},
		{"change that apply repairs", "change that pulumi up repairs"},
		{"set it to false and apply before destroying", "set it to false and run pulumi up before destroying"},
	} {
		doc = bytes.ReplaceAll(doc, []byte(r[0]), []byte(r[1]))
	}
	return doc, nil
}

// dropExamples removes the Example Usage section of a Terraform doc: its
// examples are HCL, which no Pulumi program can use, and tfgen translates
// them only through the Terraform converter plugin, which cannot be
// installed offline. The Pulumi examples are in examples/pulumi.
func dropExamples(_ string, doc []byte) ([]byte, error) {
	const head = "## Example Usage\n"
	i := bytes.Index(doc, []byte(head))
	if i < 0 {
		return doc, nil
	}
	rest := doc[i+len(head):]
	end := bytes.Index(rest, []byte("\n## "))
	if end < 0 {
		return doc[:i], nil
	}
	return append(doc[:i:i], rest[end+1:]...), nil
}
