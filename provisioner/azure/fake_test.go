package azure_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
)

// The driver's error handling against the Azure SDK's own fake servers
// (armcompute/v7/fake, armnetwork/v7/fake) with azcore's fake token
// credential: each test scripts what ARM answers.

// fakes routes each request to the fake server of its client (the SDK
// names the client in the request's context) and records, in order, the
// operations and whether each carried a bearer token.
type fakes struct {
	compute *computefake.ServerFactoryTransport
	network *networkfake.ServerFactoryTransport
	mu      sync.Mutex
	calls   []string
	noAuth  []string
}

func (f *fakes) Do(req *http.Request) (*http.Response, error) {
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	f.mu.Lock()
	f.calls = append(f.calls, api)
	if !strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
		f.noAuth = append(f.noAuth, api)
	}
	f.mu.Unlock()
	if strings.HasPrefix(api, "VirtualMachinesClient.") {
		return f.compute.Do(req)
	}
	return f.network.Do(req)
}

func (f *fakes) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func fakeDriver(t *testing.T, c *computefake.ServerFactory, n *networkfake.ServerFactory) (*azure.Driver, *fakes) {
	t.Helper()
	f := &fakes{compute: computefake.NewServerFactoryTransport(c), network: networkfake.NewServerFactoryTransport(n)}
	d, err := azure.New(azure.Config{
		SubscriptionID: subscription, Location: "westeurope", Credential: &azfake.TokenCredential{}, Transport: f,
		PollFrequency: time.Millisecond, RetryDelay: time.Millisecond, MaxRetries: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(f.noAuth) > 0 {
			t.Errorf("requests without a bearer token: %v", f.noAuth)
		}
	})
	return d, f
}

// networkOK answers every PUT of a public IP or NIC with success.
func networkOK() *networkfake.ServerFactory {
	return &networkfake.ServerFactory{
		PublicIPAddressesServer: networkfake.PublicIPAddressesServer{
			BeginCreateOrUpdate: func(ctx context.Context, rg, name string, p armnetwork.PublicIPAddress, _ *armnetwork.PublicIPAddressesClientBeginCreateOrUpdateOptions) (r azfake.PollerResponder[armnetwork.PublicIPAddressesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
				r.SetTerminalResponse(http.StatusOK, armnetwork.PublicIPAddressesClientCreateOrUpdateResponse{PublicIPAddress: p}, nil)
				return
			},
		},
		InterfacesServer: networkfake.InterfacesServer{
			BeginCreateOrUpdate: func(ctx context.Context, rg, name string, p armnetwork.Interface, _ *armnetwork.InterfacesClientBeginCreateOrUpdateOptions) (r azfake.PollerResponder[armnetwork.InterfacesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
				r.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientCreateOrUpdateResponse{Interface: p}, nil)
				return
			},
		},
	}
}

func launch(d *azure.Driver) (provisioner.Instance, error) {
	s := spec(3)
	return d.Launch(context.Background(), s, provisioner.Launch{NodeID: "shop-n1", Token: provisioner.ClientToken("shop", "shop-n1", 0), UserData: []byte("#cloud-config\n")})
}

func TestFakeLaunchErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vm      func(r *azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e *azfake.ErrorResponder)
		state   provisioner.State
		wantErr string
	}{
		{"provisioning fails: a terminated instance, not an error", func(r *azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e *azfake.ErrorResponder) {
			r.AddNonTerminalResponse(http.StatusCreated, nil)
			r.SetTerminalError(http.StatusOK, "AllocationFailed")
		}, provisioner.Terminated, ""},
		{"refused request: the error, named", func(r *azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e *azfake.ErrorResponder) {
			e.SetResponseError(http.StatusBadRequest, "InvalidParameter")
		}, "", "InvalidParameter"},
		{"polling breaks: the error", func(r *azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e *azfake.ErrorResponder) {
			r.AddNonTerminalResponse(http.StatusCreated, nil)
			r.AddPollingError(fmt.Errorf("connection reset"))
			r.SetTerminalResponse(http.StatusOK, armcompute.VirtualMachinesClientCreateOrUpdateResponse{}, nil)
		}, "", "connection reset"},
		{"quota exceeded when the operation ends: the error", func(r *azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e *azfake.ErrorResponder) {
			r.SetTerminalError(http.StatusConflict, "OperationNotAllowed")
		}, "", "OperationNotAllowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &computefake.ServerFactory{VirtualMachinesServer: computefake.VirtualMachinesServer{
				BeginCreateOrUpdate: func(ctx context.Context, rg, name string, vm armcompute.VirtualMachine, _ *armcompute.VirtualMachinesClientBeginCreateOrUpdateOptions) (r azfake.PollerResponder[armcompute.VirtualMachinesClientCreateOrUpdateResponse], e azfake.ErrorResponder) {
					if *vm.Properties.OSProfile.CustomData == "" || *vm.Properties.StorageProfile.OSDisk.DiskSizeGB != azure.MinOSDiskGB {
						e.SetResponseError(http.StatusBadRequest, "TestSawBadRequest")
						return
					}
					tc.vm(&r, &e)
					return
				},
			}}
			d, _ := fakeDriver(t, c, networkOK())
			in, err := launch(d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Launch = %+v, %v; want an error naming %s", in, err, tc.wantErr)
				}
				return
			}
			if err != nil || in.State != tc.state || !strings.Contains(in.Reason, "AllocationFailed") || in.NodeID != "shop-n1" {
				t.Fatalf("Launch = %+v, %v; want a %s instance with the reason", in, err, tc.state)
			}
		})
	}
}

// TestFakeTerminateOrder: VM, NIC, public IP, in that order; a VM already
// gone is not an error; a NIC ARM refuses to delete is.
func TestFakeTerminateOrder(t *testing.T) {
	var nicErr string
	c := &computefake.ServerFactory{VirtualMachinesServer: computefake.VirtualMachinesServer{
		BeginDelete: func(ctx context.Context, rg, name string, _ *armcompute.VirtualMachinesClientBeginDeleteOptions) (r azfake.PollerResponder[armcompute.VirtualMachinesClientDeleteResponse], e azfake.ErrorResponder) {
			e.SetResponseError(http.StatusNotFound, "ResourceNotFound")
			return
		},
	}}
	n := &networkfake.ServerFactory{
		InterfacesServer: networkfake.InterfacesServer{
			BeginDelete: func(ctx context.Context, rg, name string, _ *armnetwork.InterfacesClientBeginDeleteOptions) (r azfake.PollerResponder[armnetwork.InterfacesClientDeleteResponse], e azfake.ErrorResponder) {
				if nicErr != "" {
					e.SetResponseError(http.StatusConflict, nicErr)
					return
				}
				r.AddNonTerminalResponse(http.StatusAccepted, nil)
				r.SetTerminalResponse(http.StatusOK, armnetwork.InterfacesClientDeleteResponse{}, nil)
				return
			},
		},
		PublicIPAddressesServer: networkfake.PublicIPAddressesServer{
			BeginDelete: func(ctx context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientBeginDeleteOptions) (r azfake.PollerResponder[armnetwork.PublicIPAddressesClientDeleteResponse], e azfake.ErrorResponder) {
				r.SetTerminalResponse(http.StatusOK, armnetwork.PublicIPAddressesClientDeleteResponse{}, nil)
				return
			},
		},
	}
	d, f := fakeDriver(t, c, n)
	inst := provisioner.Instance{ID: "/subscriptions/" + subscription + "/resourceGroups/aerolith-shop/providers/Microsoft.Compute/virtualMachines/shop-n1-abcd1234"}
	if err := d.Terminate(context.Background(), spec(3), inst); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range f.log() {
		if strings.Contains(c, "BeginDelete") && (len(order) == 0 || order[len(order)-1] != c) {
			order = append(order, c)
		}
	}
	want := []string{"VirtualMachinesClient.BeginDelete", "InterfacesClient.BeginDelete", "PublicIPAddressesClient.BeginDelete"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("deletes %v, want %v", order, want)
	}
	nicErr = "NicInUse"
	if err := d.Terminate(context.Background(), spec(3), inst); err == nil || !strings.Contains(err.Error(), "NicInUse") {
		t.Fatalf("Terminate with the NIC refused = %v, want the NicInUse error", err)
	}
}

// TestFakeInstancesStates: every page is read and each provisioning state
// maps to a lifecycle state, with the addresses of the VM's NIC.
func TestFakeInstancesStates(t *testing.T) {
	rg := "/subscriptions/" + subscription + "/resourceGroups/aerolith-shop/providers/"
	vm := func(name, node, state string) *armcompute.VirtualMachine {
		return &armcompute.VirtualMachine{
			ID: ptr(rg + "Microsoft.Compute/virtualMachines/" + name), Name: ptr(name),
			Tags: map[string]*string{provisioner.TagCluster: ptr("shop"), provisioner.TagNode: ptr(node)},
			Properties: &armcompute.VirtualMachineProperties{ProvisioningState: ptr(state), NetworkProfile: &armcompute.NetworkProfile{
				NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{ID: ptr(rg + "Microsoft.Network/networkInterfaces/" + name + "-nic")}}}},
		}
	}
	c := &computefake.ServerFactory{VirtualMachinesServer: computefake.VirtualMachinesServer{
		NewListPager: func(string, *armcompute.VirtualMachinesClientListOptions) (r azfake.PagerResponder[armcompute.VirtualMachinesClientListResponse]) {
			r.AddPage(http.StatusOK, armcompute.VirtualMachinesClientListResponse{VirtualMachineListResult: armcompute.VirtualMachineListResult{Value: []*armcompute.VirtualMachine{vm("a", "shop-n1", "Succeeded"), vm("b", "shop-n2", "Creating")}}}, nil)
			r.AddPage(http.StatusOK, armcompute.VirtualMachinesClientListResponse{VirtualMachineListResult: armcompute.VirtualMachineListResult{Value: []*armcompute.VirtualMachine{vm("c", "shop-n3", "Failed"), vm("d", "shop-n3", "Deleting")}}}, nil)
			return
		},
	}}
	n := &networkfake.ServerFactory{
		InterfacesServer: networkfake.InterfacesServer{
			NewListPager: func(string, *armnetwork.InterfacesClientListOptions) (r azfake.PagerResponder[armnetwork.InterfacesClientListResponse]) {
				r.AddPage(http.StatusOK, armnetwork.InterfacesClientListResponse{InterfaceListResult: armnetwork.InterfaceListResult{Value: []*armnetwork.Interface{{
					ID: ptr(rg + "Microsoft.Network/networkInterfaces/a-nic"), Tags: map[string]*string{provisioner.TagCluster: ptr("shop")},
					Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
						PrivateIPAddress: ptr("10.64.0.4"), PublicIPAddress: &armnetwork.PublicIPAddress{ID: ptr(rg + "Microsoft.Network/publicIPAddresses/a-pip")}}}}},
				}}}}, nil)
				return
			},
		},
		PublicIPAddressesServer: networkfake.PublicIPAddressesServer{
			NewListPager: func(string, *armnetwork.PublicIPAddressesClientListOptions) (r azfake.PagerResponder[armnetwork.PublicIPAddressesClientListResponse]) {
				r.AddPage(http.StatusOK, armnetwork.PublicIPAddressesClientListResponse{PublicIPAddressListResult: armnetwork.PublicIPAddressListResult{Value: []*armnetwork.PublicIPAddress{{
					ID: ptr(rg + "Microsoft.Network/publicIPAddresses/a-pip"), Tags: map[string]*string{provisioner.TagCluster: ptr("shop")},
					Properties: &armnetwork.PublicIPAddressPropertiesFormat{IPAddress: ptr("20.50.0.1")},
				}}}}, nil)
				return
			},
		},
	}
	d, _ := fakeDriver(t, c, n)
	insts, err := d.Instances(context.Background(), spec(3))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]provisioner.Instance{}
	for _, in := range insts {
		got[lastName(in.ID)] = in
	}
	if a := got["a"]; a.State != provisioner.Running || a.PrivateIP != "10.64.0.4" || a.PublicIP != "20.50.0.1" || a.NodeID != "shop-n1" {
		t.Fatalf("a = %+v", a)
	}
	if got["b"].State != provisioner.Pending || got["c"].State != provisioner.Terminated || got["c"].Reason == "" || got["d"].State != provisioner.Terminated || len(insts) != 4 {
		t.Fatalf("instances %+v", insts)
	}
}

func lastName(id string) string { return id[strings.LastIndex(id, "/")+1:] }

func ptr[T any](v T) *T { return &v }
