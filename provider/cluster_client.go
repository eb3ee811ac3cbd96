package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// clusterEnv is the deployment environment of the cluster named name (an
// aerolith_cluster's id), from the state directory the cluster resource
// keeps (endpoints, CA, admin key).
func (c *clients) clusterEnv(ctx context.Context, name string) (*deployment.Env, error) {
	if c == nil {
		return nil, errors.New("the provider is not configured")
	}
	rec, sec, err := c.load(name)
	if err != nil {
		return nil, err
	}
	return c.env(ctx, rec, sec, nil)
}

// clusterClient reaches the running nodes of env's cluster with key.
func clusterClient(ctx context.Context, env *deployment.Env, key string) (*client.Client, error) {
	urls, err := env.Endpoints(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("cluster %s has no running node", env.Rec.Spec.Name)
	}
	return env.Client(urls, key)
}

// adminClient reaches cluster name with its admin key.
func (c *clients) adminClient(ctx context.Context, name string) (*client.Client, error) {
	env, err := c.clusterEnv(ctx, name)
	if err != nil {
		return nil, err
	}
	return clusterClient(ctx, env, "")
}

// tenantClient reaches tenant's data on cluster name: with the cluster
// admin key for tenant "" (an unmanaged cluster's default tenant), else
// with an admin key of the tenant the provider made for itself once and
// keeps in the state directory's secrets (made again if revoked).
func (c *clients) tenantClient(ctx context.Context, name, tenant string) (*client.Client, error) {
	if tenant == "" {
		return c.adminClient(ctx, name)
	}
	// Terraform and Pulumi read, create and delete the collections and
	// indexes of one cluster in parallel: each waits its turn for the
	// lock (until ctx ends) rather than failing the others.
	unlock, err := c.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	env, err := c.clusterEnv(ctx, name)
	if err != nil {
		return nil, err
	}
	if key := env.Sec.TenantKeys[tenant]; key != "" {
		tc, err := clusterClient(ctx, env, key)
		if err != nil {
			return nil, err
		}
		if _, err := tc.Collections(ctx); !client.IsUnauthenticated(err) {
			return tc, nil
		}
	}
	admin, err := clusterClient(ctx, env, "")
	if err != nil {
		return nil, err
	}
	k, err := admin.CreateKey(ctx, tenant, "admin", "terraform-provider-aerolith")
	if err != nil {
		return nil, fmt.Errorf("an admin key of tenant %s on %s for the provider: %w", tenant, name, err)
	}
	if env.Sec.TenantKeys == nil {
		env.Sec.TenantKeys = map[string]string{}
	}
	env.Sec.TenantKeys[tenant] = k.Key
	if err := c.store.Save(env.Rec, env.Sec); err != nil {
		return nil, err
	}
	return clusterClient(ctx, env, k.Key)
}

// lock takes cluster name's lock, waiting its turn until ctx ends (the
// operation's timeout, or Ctrl-C): Terraform and Pulumi run operations
// on one cluster in parallel, and a person may be running an aerolith
// cluster command on it. The log says when it has to wait.
func (c *clients) lock(ctx context.Context, name string) (func(), error) {
	unlock, err := c.store.Lock(name)
	if !errors.Is(err, deployment.ErrLocked) {
		return unlock, err
	}
	tflog.Info(ctx, "aerolith: waiting for cluster "+name+": another operation is changing it")
	return c.store.LockWait(ctx, name)
}
