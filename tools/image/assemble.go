package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// entry is one file or directory of a layer.
type entry struct {
	path string // without a leading slash; directories end in "/"
	mode int64
	uid  int
	data []byte
}

// tarLayer writes entries sorted by path, each stamped with mtime and owned
// by uid:uid (0 or the non-root user), so the same entries always give the
// same bytes.
func tarLayer(entries []entry, mtime time.Time) (v1.Layer, error) {
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, e := range entries {
		if i > 0 && entries[i-1].path == e.path {
			return nil, fmt.Errorf("layer: %s twice", e.path)
		}
		h := &tar.Header{
			Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime,
			Format: tar.FormatPAX, Typeflag: tar.TypeReg, Size: int64(len(e.data)),
		}
		if strings.HasSuffix(e.path, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	// Compressed once here: handed uncompressed data, the layer would
	// compress it again every time its digest or blob is read.
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// dirs are the directory entries (root-owned, 0755) of p's parents.
func dirs(p string) []entry {
	var out []entry
	for d := path.Dir(strings.TrimSuffix(p, "/")); d != "." && d != "/"; d = path.Dir(d) {
		out = append(out, entry{path: strings.TrimPrefix(d, "/") + "/", mode: 0o755})
	}
	return out
}

// caBundle is the PEM bundle of the Mozilla (NSS) roots that Go's
// x509roots/fallback module carries, at the version go.mod pins: the images
// have no distribution to take ca-certificates from, and the binaries
// verify billing and cloud APIs against system roots. Roots NSS trusts
// only with a distrust-after date are left out, as a PEM file cannot say so.
func caBundle() ([]byte, int) {
	var out bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
		n++
	}
	return out.Bytes(), n
}

// baseLayer is what every image shares, in place of a distroless base: the
// non-root user, CA roots, a resolver configuration and a sticky /tmp.
func baseLayer(mtime time.Time) (v1.Layer, error) {
	ca, _ := caBundle()
	es := []entry{
		{path: "etc/", mode: 0o755},
		{path: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\n%[1]s:x:%[2]d:%[2]d:%[1]s:/home/%[1]s:/sbin/nologin\n", userName, uid))},
		{path: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid))},
		// Go's resolver reads it to order /etc/hosts before DNS.
		{path: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "etc/ssl/", mode: 0o755},
		{path: "etc/ssl/certs/", mode: 0o755},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{path: "home/", mode: 0o755},
		{path: "home/" + userName + "/", mode: 0o700, uid: uid},
		{path: "root/", mode: 0o700},
		{path: "tmp/", mode: 0o1777},
	}
	return tarLayer(es, mtime)
}

// appLayer holds s's binary and its volumes, owned by the non-root user.
func appLayer(s spec, binary []byte, mtime time.Time) (v1.Layer, error) {
	es := append(dirs(binDir+"/"+s.Name), entry{path: strings.TrimPrefix(binDir, "/") + "/" + s.Name, mode: 0o755, data: binary})
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.path] = true
	}
	for _, v := range s.Volumes {
		for _, d := range dirs(v) {
			if !seen[d.path] {
				seen[d.path] = true
				es = append(es, d)
			}
		}
		es = append(es, entry{path: strings.TrimPrefix(v, "/") + "/", mode: 0o750, uid: uid})
	}
	return tarLayer(es, mtime)
}

// meta is the release every image of a run is labelled with.
type meta struct {
	Version, Revision string
	Created           time.Time
}

// labels are the OCI annotations of an image built from s.
func (m meta) labels(s spec) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       s.Title,
		"org.opencontainers.image.description": s.Description,
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Revision,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.url":         source,
		"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
	}
}

// assemble builds s's image for p from scratch: the base layer, then the
// binary at binaryPath, with the runtime configuration the Kubernetes
// manifests expect.
func assemble(s spec, p platform, m meta, base v1.Layer, binaryPath string) (v1.Image, error) {
	bin, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, err
	}
	app, err := appLayer(s, bin, m.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: m.Created}, CreatedBy: "aerolith tools/image: base (nonroot user, CA roots, /tmp)", Comment: "from scratch"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: m.Created}, CreatedBy: "aerolith tools/image: " + binDir + "/" + s.Name}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Arch, p.Variant
	cf.Author = source
	cf.Created = v1.Time{Time: m.Created}
	cf.Config.Entrypoint = s.entrypoint()
	cf.Config.Cmd = s.Cmd
	cf.Config.User = strconv.Itoa(uid)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, s.Env...)
	cf.Config.Labels = m.labels(s)
	if len(s.Ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, port := range s.Ports {
			cf.Config.ExposedPorts[port] = struct{}{}
		}
	}
	if len(s.Volumes) > 0 {
		cf.Config.Volumes = map[string]struct{}{}
		for _, v := range s.Volumes {
			cf.Config.Volumes[v] = struct{}{}
		}
	}
	return mutate.ConfigFile(img, cf)
}

// countBytes reads rc to the end, closes it and says how long it was.
func countBytes(rc io.ReadCloser) (int64, error) {
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}
