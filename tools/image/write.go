package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// result is what was written for one image.
type result struct {
	Name      string
	Ref       string  // registry/name:version
	Digest    v1.Hash // of the multi-platform index
	Layout    string  // the OCI layout folder
	Platforms []platformResult
}

type platformResult struct {
	Platform   string
	Digest     v1.Hash // of the image manifest
	Compressed int64   // the layers as pushed
	Unpacked   int64   // the layers unpacked
	Archive    string  // the docker-archive, when written
}

// buildAll builds every image of specs for every platform into out,
// replacing what an earlier run left there.
func buildAll(ctx context.Context, cfg buildConfig, m meta, specs []spec, ps []platform, out string, dockerArchive, keepBinaries bool) ([]result, error) {
	base, err := baseLayer(m.Created)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	binRoot := filepath.Join(out, "bin")
	var results []result
	for _, s := range specs {
		ref, err := name.NewTag(cfg.Registry+"/"+s.Name+":"+cfg.Version, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("image name: %w", err)
		}
		r := result{Name: s.Name, Ref: ref.String(), Layout: filepath.Join(out, s.Name)}
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		for _, p := range ps {
			bin := filepath.Join(binRoot, p.OS+"-"+p.Arch+p.Variant, s.Name)
			if err := cfg.build(ctx, s, p, bin); err != nil {
				return nil, err
			}
			img, err := assemble(s, p, m, base, bin)
			if err != nil {
				return nil, fmt.Errorf("%s for %s: %w", s.Name, p, err)
			}
			pr, err := describe(img, p)
			if err != nil {
				return nil, err
			}
			if dockerArchive {
				pr.Archive = filepath.Join(out, s.Name+"-"+strings.ReplaceAll(p.String(), "/", "-")+".tar")
				if err := writeArchive(pr.Archive, ref, img); err != nil {
					return nil, err
				}
			}
			r.Platforms = append(r.Platforms, pr)
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
				Platform: &v1.Platform{OS: p.OS, Architecture: p.Arch, Variant: p.Variant}}})
		}
		idx = mutate.Annotations(idx, m.labels(s)).(v1.ImageIndex)
		if r.Digest, err = idx.Digest(); err != nil {
			return nil, err
		}
		if err := writeLayout(r.Layout, ref, idx); err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	if !keepBinaries {
		if err := os.RemoveAll(binRoot); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// describe measures img.
func describe(img v1.Image, p platform) (platformResult, error) {
	pr := platformResult{Platform: p.String()}
	var err error
	if pr.Digest, err = img.Digest(); err != nil {
		return pr, err
	}
	layers, err := img.Layers()
	if err != nil {
		return pr, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return pr, err
		}
		pr.Compressed += n
		rc, err := l.Uncompressed()
		if err != nil {
			return pr, err
		}
		u, err := countBytes(rc)
		if err != nil {
			return pr, err
		}
		pr.Unpacked += u
	}
	return pr, nil
}

// writeLayout writes idx as the one manifest of a fresh OCI image layout
// at dir, annotated with its tag (skopeo's oci:DIR:TAG) and its full name
// (containerd's ctr import).
func writeLayout(dir string, ref name.Tag, idx v1.ImageIndex) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		"io.containerd.image.name":          ref.String(),
	}))
}

// writeArchive writes img as a docker-archive tagged ref (docker load -i).
func writeArchive(path string, ref name.Tag, img v1.Image) error {
	tmp := path + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("docker-archive %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
