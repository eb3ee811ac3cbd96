// Package provider is the Aerolith Terraform provider
// (registry.terraform.io/aerolithdb/aerolith) on terraform-plugin-framework,
// protocol 6: a thin layer over provisioner/deployment (clusters, the same
// logic as `aerolith cluster create`), billing/client (tenants, usage,
// pricing, cluster registration) and agent/client (keys, collections,
// indexes). It links no database: internal/deprules checks that.
package provider

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/clientopts"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// Address is the provider's registry address.
const Address = "registry.terraform.io/aerolithdb/aerolith"

// Environment variables that stand in for unset provider attributes.
const (
	EnvBillingURL = "AEROLITH_BILLING_URL"
	EnvBillingKey = "AEROLITH_BILLING_KEY"
)

// New returns the provider factory providerserver.Serve takes.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &aerolithProvider{version: version} }
}

type aerolithProvider struct{ version string }

var _ provider.Provider = (*aerolithProvider)(nil)

type providerModel struct {
	BillingURL types.String `tfsdk:"billing_url"`
	BillingKey types.String `tfsdk:"billing_key"`
	CAFile     types.String `tfsdk:"ca_file"`
	CAPEM      types.String `tfsdk:"ca_pem"`
	StateDir   types.String `tfsdk:"state_dir"`
	AWS        *awsModel    `tfsdk:"aws"`
	GCP        *gcpModel    `tfsdk:"gcp"`
	Azure      *azureModel  `tfsdk:"azure"`
}

type awsModel struct {
	Region   types.String `tfsdk:"region"`
	Endpoint types.String `tfsdk:"endpoint"`
}

type gcpModel struct {
	Project  types.String `tfsdk:"project"`
	Zone     types.String `tfsdk:"zone"`
	Endpoint types.String `tfsdk:"endpoint"`
}

type azureModel struct {
	SubscriptionID types.String `tfsdk:"subscription_id"`
	Location       types.String `tfsdk:"location"`
	ResourceGroup  types.String `tfsdk:"resource_group"`
	Endpoint       types.String `tfsdk:"endpoint"`
}

func (p *aerolithProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "aerolith"
	resp.Version = p.version
}

func (p *aerolithProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	endpoint := schema.StringAttribute{Optional: true, Description: "Overrides the cloud API's endpoint URL (e.g. a local `aerolith cloudsim serve`)."}
	resp.Schema = schema.Schema{
		Description: "Manages Aerolith tenants (billing), clusters on local processes or a cloud, their API keys, collections and indexes. " +
			"Cloud credentials come only from each cloud's standard environment and files (AWS: AWS_ACCESS_KEY_ID, ~/.aws; " +
			"GCP: GOOGLE_APPLICATION_CREDENTIALS; Azure: AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), never from HCL.",
		Attributes: map[string]schema.Attribute{
			"billing_url": schema.StringAttribute{Optional: true, Description: "Base URL of the billing service (replicas separated by commas); env " + EnvBillingURL + "."},
			"billing_key": schema.StringAttribute{Optional: true, Sensitive: true, Description: "Billing key: the admin key (an MSP or operator: any tenant) or a tenant's own key (a customer: its own clusters, keys and usage); env " + EnvBillingKey + "."},
			"ca_file":     schema.StringAttribute{Optional: true, Description: "PEM CA bundle billing's certificate is verified with (default: the system roots); env " + clientopts.EnvCAFile + "."},
			"ca_pem":      schema.StringAttribute{Optional: true, Description: "The same CA bundle as PEM text; conflicts with ca_file."},
			"state_dir":   schema.StringAttribute{Optional: true, Description: "Where clusters keep their working files (local instances, local CA, node certificates) in the layout of `aerolith cluster` (so `aerolith cluster show NAME` works on them); default $" + deployment.EnvStateDir + ", else $XDG_STATE_HOME/aerolith, else ~/.local/state/aerolith."},
		},
		Blocks: map[string]schema.Block{
			"aws": schema.SingleNestedBlock{Description: "AWS settings; credentials from the standard chain.", Attributes: map[string]schema.Attribute{
				"region":   schema.StringAttribute{Optional: true, Description: "Default region of aws clusters that name none."},
				"endpoint": endpoint,
			}},
			"gcp": schema.SingleNestedBlock{Description: "GCP settings; credentials from Application Default Credentials.", Attributes: map[string]schema.Attribute{
				"project":  schema.StringAttribute{Optional: true, Description: "Project of gcp clusters."},
				"zone":     schema.StringAttribute{Optional: true, Description: "Default zone of gcp clusters that name none."},
				"endpoint": endpoint,
			}},
			"azure": schema.SingleNestedBlock{Description: "Azure settings; credentials from the standard environment (azidentity).", Attributes: map[string]schema.Attribute{
				"subscription_id": schema.StringAttribute{Optional: true, Description: "Subscription of azure clusters."},
				"location":        schema.StringAttribute{Optional: true, Description: "Default location of azure clusters that name none."},
				"resource_group": schema.StringAttribute{Optional: true, Description: "Default resource_group of azure clusters that name none: an existing resource group, which the cluster is created in and which is never deleted with it. " +
					"Unset, each cluster gets a group of its own, aerolith-NAME. Taken when a cluster is created: changing it later leaves existing clusters where they are. (AZURE_DEFAULTS_GROUP, which `aerolith cluster create` reads, is not read: set it here.)"},
				"endpoint": endpoint,
			}},
		},
	}
}

// clients is what Configure hands every resource and data source.
type clients struct {
	billing    *billingclient.Client // nil without billing_url
	billingURL string
	billingCA  string // PEM, "" for the system roots
	store      deployment.Store
	aws        awsModel
	gcp        gcpModel
	azure      azureModel
	who        whoami
}

// needBilling returns the billing client or says how to configure one.
func (c *clients) needBilling() (*billingclient.Client, error) {
	if c.billing == nil {
		return nil, fmt.Errorf("no billing service configured: set billing_url and billing_key in the provider block (or %s and %s)", EnvBillingURL, EnvBillingKey)
	}
	return c.billing, nil
}

func (p *aerolithProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := &clients{}
	url := stringOr(m.BillingURL, os.Getenv(EnvBillingURL))
	key := stringOr(m.BillingKey, os.Getenv(EnvBillingKey))
	caFile := stringOr(m.CAFile, os.Getenv(clientopts.EnvCAFile))
	if !m.CAPEM.IsNull() && caFile != "" {
		resp.Diagnostics.AddAttributeError(path.Root("ca_pem"), "Conflicting CA settings", "set ca_file or ca_pem, not both")
		return
	}
	c.billingCA = m.CAPEM.ValueString()
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ca_file"), "Unreadable CA file", err.Error())
			return
		}
		c.billingCA = string(b)
	}
	if url != "" {
		if key == "" {
			resp.Diagnostics.AddAttributeError(path.Root("billing_key"), "Missing billing key", "billing_url is set but no key: set billing_key or "+EnvBillingKey)
			return
		}
		hc, err := httpClient(c.billingCA)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("ca_pem"), "Bad CA bundle", err.Error())
			return
		}
		bc, err := billingclient.New(billingclient.Config{URL: url, Key: key, HTTPClient: hc, UserAgent: "terraform-provider-aerolith/" + p.version})
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("billing_url"), "Bad billing URL", err.Error())
			return
		}
		c.billing, c.billingURL = bc, url
	}
	// Absolute: a local instance runs in its own directory, so a relative
	// path recorded for it would point nowhere.
	c.store = deployment.Store{Dir: stringOr(m.StateDir, deployment.DefaultStateDir())}
	if abs, err := filepath.Abs(c.store.Dir); err == nil {
		c.store.Dir = abs
	}
	if m.AWS != nil {
		c.aws = *m.AWS
	}
	if m.GCP != nil {
		c.gcp = *m.GCP
	}
	if m.Azure != nil {
		c.azure = *m.Azure
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

// httpClient verifies servers with caPEM ("" for the system roots).
func httpClient(caPEM string) (*http.Client, error) {
	t := client.NewTransport()
	if caPEM != "" {
		tc, err := tlsConfigPEM(caPEM)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = tc
	}
	return &http.Client{Transport: t}, nil
}

func (p *aerolithProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{newTenantResource, newClusterResource, newAPIKeyResource, newIndexResource, newCollectionResource}
}

func (p *aerolithProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{newPricingTiersDataSource, newTenantDataSource, newTenantUsageDataSource, newClusterDataSource, newCloudInitDataSource}
}

func stringOr(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return def
	}
	return v.ValueString()
}
