package azure_test

import (
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/aerolithdb/aerolith/provisioner/azure"
)

// credential is the managed identity identityEnv pointed at the simulator.
func credential(t *testing.T) azcore.TokenCredential {
	t.Helper()
	c, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clientOptions point an SDK client at the simulator at url.
func clientOptions(url string) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: azure.CloudConfig(url), InsecureAllowCredentialWithHTTP: true}}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
