package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
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

// resolve fills spec's region from the environment and returns the
// cluster's Azure settings (nil for another cloud, where the Azure flags
// are refused).
func (a *azureFlags) resolve(spec *provisioner.ClusterSpec) (*deployment.AzureSettings, error) {
	if spec.Cloud != provisioner.Azure {
		if a.subscription != "" || a.resourceGroup != "" {
			return nil, usageError{fmt.Errorf("--subscription and --resource-group are for --cloud azure, not %s", spec.Cloud)}
		}
		return nil, nil
	}
	if spec.Region == "" {
		spec.Region = os.Getenv(envAzureLocation)
	}
	s := &deployment.AzureSettings{Subscription: a.subscription, ResourceGroup: a.resourceGroup}
	if s.Subscription == "" {
		s.Subscription = os.Getenv(azure.EnvSubscription)
	}
	if s.ResourceGroup == "" {
		s.ResourceGroup = os.Getenv(envAzureGroup)
	}
	if s.ResourceGroup != "" {
		if err := azure.ValidateResourceGroup(s.ResourceGroup); err != nil {
			return nil, usageError{fmt.Errorf("--resource-group: %w", err)}
		}
	}
	if s.Subscription == "" {
		return nil, usageError{fmt.Errorf("--subscription: the Azure subscription id is required (or %s)", azure.EnvSubscription)}
	}
	return s, nil
}
