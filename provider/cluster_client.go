package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/aerolithdb/aerolith/agent/client"
)

// clusterClient reaches the running nodes of the cluster named name (an
// aerolith_cluster's id) with key, or with its admin key when key is "".
// The cluster's endpoints, CA and admin key come from the state
// directory the cluster resource keeps.
func (c *clients) clusterClient(ctx context.Context, name, key string) (*client.Client, error) {
	if c == nil {
		return nil, errors.New("the provider is not configured")
	}
	rec, sec, err := c.load(name)
	if err != nil {
		return nil, err
	}
	env, err := c.env(ctx, rec, sec, nil)
	if err != nil {
		return nil, err
	}
	urls, err := env.Endpoints(ctx, "")
	if err != nil {
		return nil, err
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("cluster %s has no running node", name)
	}
	return env.Client(urls, key)
}
