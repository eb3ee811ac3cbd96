package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
)

// The Azure settings of `aerolith cluster create --cloud azure`: the
// subscription and, optionally, an existing resource group, each also from
// the environment the Azure CLI and SDKs read (AZURE_SUBSCRIPTION_ID,
// AZURE_DEFAULTS_GROUP; the region from AZURE_DEFAULTS_LOCATION).
// Credentials are azidentity's DefaultAzureCredential chain.

// Environment variables read for Azure.
const (
	envAzureLocation = "AZURE_DEFAULTS_LOCATION"
	envAzureGroup    = "AZURE_DEFAULTS_GROUP"
)

type azureFlags struct {
	subscription  string
	resourceGroup string
}

func (a *azureFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&a.subscription, "subscription", "", "Azure subscription id (azure; env "+azure.EnvSubscription+")")
	fl.StringVar(&a.resourceGroup, "resource-group", "", "existing Azure resource group to create the cluster in (azure; env "+envAzureGroup+"; default: a group of its own, aerolith-NAME, deleted with the cluster)")
}

// azureSettings is what a cluster record keeps of an Azure cluster.
type azureSettings struct {
	Subscription  string `json:"subscription"`
	ResourceGroup string `json:"resource_group,omitempty"`
}

// resolve fills spec's region from the environment and returns the
// cluster's Azure settings (nil for another cloud, where the Azure flags
// are refused).
func (a *azureFlags) resolve(spec *provisioner.ClusterSpec) (*azureSettings, error) {
	if spec.Cloud != provisioner.Azure {
		if a.subscription != "" || a.resourceGroup != "" {
			return nil, usageError{fmt.Errorf("--subscription and --resource-group are for --cloud azure, not %s", spec.Cloud)}
		}
		return nil, nil
	}
	if spec.Region == "" {
		spec.Region = os.Getenv(envAzureLocation)
	}
	s := &azureSettings{Subscription: a.subscription, ResourceGroup: a.resourceGroup}
	if s.Subscription == "" {
		s.Subscription = os.Getenv(azure.EnvSubscription)
	}
	if s.ResourceGroup == "" {
		s.ResourceGroup = os.Getenv(envAzureGroup)
	}
	if s.Subscription == "" {
		return nil, usageError{fmt.Errorf("--subscription: the Azure subscription id is required (or %s)", azure.EnvSubscription)}
	}
	return s, nil
}

// newAzureDriver is the driver of an Azure cluster's record.
func newAzureDriver(rec *clusterRecord) (provisioner.Driver, error) {
	if rec.Azure == nil {
		return nil, errors.New("the cluster's record has no Azure subscription (made by an older version?); recreate it")
	}
	cfg := azure.Config{SubscriptionID: rec.Azure.Subscription, Location: rec.Spec.Region, ResourceGroup: rec.Azure.ResourceGroup, Endpoint: rec.Endpoint}
	if rec.Endpoint != "" {
		// A simulator finishes its operations in milliseconds: poll at the
		// SDK's floor.
		cfg.PollFrequency = time.Second
	}
	return azure.New(cfg)
}

// azureDiscover is the --discover string of an unmanaged Azure cluster's
// nodes (the caller adds the endpoint): the VMs of its resource group
// carrying its tag.
func azureDiscover(rec *clusterRecord) string {
	rg := rec.Azure.ResourceGroup
	if rg == "" {
		rg = "aerolith-" + rec.Spec.Name
	}
	return fmt.Sprintf("provider=azure subscription_id=%s resource_group=%s tag_key=%s tag_value=%s", rec.Azure.Subscription, rg, provisioner.TagCluster, rec.Spec.Name)
}
