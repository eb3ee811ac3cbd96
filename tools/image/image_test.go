package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The release the test stamps: not release.mk's, so a -X that missed its
// variable shows.
const (
	testVersion  = "v9.8.7-imagetest.1"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
	testRegistry = "registry.example.test/aerolith"
	testCreated  = 1767225600 // 2026-01-01T00:00:00Z
)

// buildImages runs the command as make images does, for this machine's
// platform, into a new folder.
func buildImages(t *testing.T) (string, string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the images are linux/%s; running their binaries needs linux, this is %s", runtime.GOARCH, runtime.GOOS)
	}
	// go test puts its own toolchain first on PATH.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command that builds the binaries: %v", err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	args := []string{"-root", filepath.Join("..", ".."), "-out", out, "-go", goCmd, "-version", testVersion,
		"-revision", testRevision, "-registry", testRegistry, "-created", fmt.Sprint(testCreated),
		"-platforms", "linux/" + runtime.GOARCH}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if err := run(ctx, args, &stdout); err != nil {
		t.Fatalf("image %s: %v", strings.Join(args, " "), err)
	}
	return out, stdout.String()
}

// TestImages builds both images and checks what Kubernetes and docker
// rely on: a valid OCI layout, the runtime configuration, the files, a
// static binary that runs and names the stamped release, a loadable
// docker-archive of the same image, and the same digests from a second
// build of the same inputs.
func TestImages(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds both binaries twice")
	}
	dir1, summary := buildImages(t)
	t.Logf("make images printed:\n%s", summary)
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) { checkImage(t, dir1, s) })
	}

	dir2, _ := buildImages(t)
	for _, s := range specs {
		d1, d2 := layoutDigest(t, filepath.Join(dir1, s.Name)), layoutDigest(t, filepath.Join(dir2, s.Name))
		if d1 != d2 {
			t.Errorf("%s: two builds of the same inputs gave %s and %s", s.Name, d1, d2)
		}
		a := s.Name + "-linux-" + runtime.GOARCH + ".tar"
		if h1, h2 := fileHash(t, filepath.Join(dir1, a)), fileHash(t, filepath.Join(dir2, a)); h1 != h2 {
			t.Errorf("%s: two builds gave docker-archives %x and %x", a, h1, h2)
		}
	}
}

// layoutDigest is the digest of the one index an image's layout holds.
func layoutDigest(t *testing.T, dir string) v1.Hash {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("%s/index.json has %d manifests, want 1", dir, len(im.Manifests))
	}
	return im.Manifests[0].Digest
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func checkImage(t *testing.T, out string, s spec) {
	dir := filepath.Join(out, s.Name)
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(top); err != nil {
		t.Fatalf("validate.Index(%s): %v", dir, err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want 1", len(tm.Manifests))
	}
	ref := testRegistry + "/" + s.Name + ":" + testVersion
	if got := tm.Manifests[0].Annotations; got["org.opencontainers.image.ref.name"] != testVersion || got["io.containerd.image.name"] != ref {
		t.Errorf("index.json annotations = %v, want ref.name %s and io.containerd.image.name %s", got, testVersion, ref)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != runtime.GOARCH || im.Manifests[0].Platform.OS != "linux" {
		t.Fatalf("image index manifests = %+v, want one for linux/%s", im.Manifests, runtime.GOARCH)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, s, cf)
	bin := checkFiles(t, s, img)
	checkBinary(t, s, bin)
	checkArchive(t, out, s, img)
	checkPush(t, s, idx)
}

// checkPush pushes the layout's index to a registry as crane push does
// (go-containerregistry's in-memory registry, over HTTP) and reads it back
// by tag: the same digest, every platform's image complete.
func checkPush(t *testing.T, s spec, idx v1.ImageIndex) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/aerolith/"+s.Name+":"+testVersion, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	if err := validate.Index(got); err != nil {
		t.Fatalf("validate.Index(pulled): %v", err)
	}
	d1, _ := idx.Digest()
	d2, err := got.Digest()
	if err != nil || d1 != d2 {
		t.Errorf("pulled %s = %s, %v, pushed %s", ref, d2, err, d1)
	}
}

func checkConfig(t *testing.T, s spec, cf *v1.ConfigFile) {
	t.Helper()
	c := cf.Config
	wantPorts := map[string]struct{}{}
	for _, p := range s.Ports {
		wantPorts[p] = struct{}{}
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"os/architecture", cf.OS + "/" + cf.Architecture, "linux/" + runtime.GOARCH},
		{"created", cf.Created.Time.Unix(), int64(testCreated)},
		{"Entrypoint", c.Entrypoint, []string{"/usr/local/bin/" + s.Name}},
		{"Cmd", c.Cmd, s.Cmd},
		{"User", c.User, "65532"},
		{"ExposedPorts", c.ExposedPorts, wantPorts},
		{"label version", c.Labels["org.opencontainers.image.version"], testVersion},
		{"label revision", c.Labels["org.opencontainers.image.revision"], testRevision},
		{"label source", c.Labels["org.opencontainers.image.source"], "https://github.com/aerolithdb/aerolith"},
		{"label created", c.Labels["org.opencontainers.image.created"], "2026-01-01T00:00:00Z"},
		{"label title", c.Labels["org.opencontainers.image.title"], s.Name},
	}
	if s.Name == "aerolith" {
		checks = append(checks,
			struct {
				what      string
				got, want any
			}{"Volumes", c.Volumes, map[string]struct{}{"/var/lib/aerolith": {}}},
			struct {
				what      string
				got, want any
			}{"Env has the data dir", strings.Join(c.Env, " "), "PATH=/usr/local/bin:/usr/bin:/bin AEROLITH_DATA_DIR=/var/lib/aerolith"},
		)
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("config %s = %#v, want %#v", ck.what, ck.got, ck.want)
		}
	}
}

// checkFiles reads the image's flattened file system and returns the
// binary's bytes.
func checkFiles(t *testing.T, s spec, img v1.Image) []byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]*tar.Header{}
	data := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			data[h.Name] = b
		}
	}
	if !bytes.Contains(data["etc/passwd"], []byte("\nnonroot:x:65532:65532:")) {
		t.Errorf("/etc/passwd = %q, want the user nonroot with uid 65532", data["etc/passwd"])
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data["etc/ssl/certs/ca-certificates.crt"]) {
		t.Error("/etc/ssl/certs/ca-certificates.crt holds no certificate")
	} else if _, n := caBundle(); n < 100 {
		t.Errorf("the CA bundle has %d roots, want the NSS set (over 100)", n)
	}
	if h := files["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp = %+v, want a sticky world-writable directory", h)
	}
	for _, v := range s.Volumes {
		h := files[strings.TrimPrefix(v, "/")]
		if h == nil || h.Typeflag != tar.TypeDir || h.Uid != 65532 || h.Gid != 65532 {
			t.Errorf("volume %s = %+v, want a directory owned by 65532:65532", v, h)
		}
	}
	bin := "usr/local/bin/" + s.Name
	h := files[bin]
	if h == nil || h.Mode&0o111 == 0 || h.Uid != 0 {
		t.Fatalf("/%s = %+v, want an executable owned by root", bin, h)
	}
	for name, h := range files {
		if !h.ModTime.Equal(time.Unix(testCreated, 0)) {
			t.Errorf("/%s has mtime %v, want the -created time", name, h.ModTime)
		}
	}
	return data[bin]
}

// checkBinary: static (no interpreter, no shared libraries) and it runs and
// prints the stamped release.
func checkBinary(t *testing.T, s spec, b []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), s.Name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", s.Name)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v): not static", s.Name, libs, err)
	}
	arg := "version"
	if s.Name == "aerolith-operator" {
		arg = "--version"
	}
	cmd := exec.Command(path, arg)
	cmd.Env = []string{} // as in the image: nothing inherited
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", s.Name, arg, err, out)
	}
	for _, want := range []string{
		s.Name + " " + testVersion + "\n",
		"revision: " + testRevision + "\n",
		"image: " + testRegistry + "/" + s.Name + ":" + testVersion + "\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s %s printed %q, want it to contain %q", s.Name, arg, out, want)
		}
	}
}

// checkArchive: the docker-archive holds the same image (config and
// layers) under the release's tag.
func checkArchive(t *testing.T, out string, s spec, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(testRegistry + "/" + s.Name + ":" + testVersion)
	if err != nil {
		t.Fatal(err)
	}
	a, err := tarball.ImageFromPath(filepath.Join(out, s.Name+"-linux-"+runtime.GOARCH+".tar"), &tag)
	if err != nil {
		t.Fatalf("docker-archive: %v", err)
	}
	if err := validate.Image(a); err != nil {
		t.Fatalf("validate.Image(docker-archive): %v", err)
	}
	c1, err := a.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Errorf("docker-archive config %s, OCI layout config %s: want the same image", c1, c2)
	}
}

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "linux/amd64,linux/arm64", want: "linux/amd64 linux/arm64"},
		{in: "linux/arm/v7", want: "linux/arm/v7"},
		{in: "darwin/arm64", wantErr: "want linux/ARCH"},
		{in: "linux", wantErr: "want linux/ARCH"},
		{in: "linux/amd64/v3", wantErr: "only arm takes a variant"},
		{in: "linux/amd64,linux/amd64", wantErr: "given twice"},
	}
	for _, tt := range tests {
		ps, err := parsePlatforms(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parsePlatforms(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("parsePlatforms(%q) = %v, %v, want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	req := []string{"-root", "r", "-out", "o", "-version", "v1.0.0", "-revision", "abc", "-registry", "reg"}
	tests := []struct {
		name    string
		args    []string
		env     string
		created int64
		wantErr string
	}{
		{name: "defaults", args: req, created: 0},
		{name: "source date epoch", args: req, env: "1700000000", created: 1700000000},
		{name: "flag beats env", args: append([]string{"-created", "5"}, req...), env: "1700000000", created: 5},
		{name: "bad epoch", args: req, env: "yesterday", wantErr: "SOURCE_DATE_EPOCH"},
		{name: "missing version", args: []string{"-root", "r", "-out", "o", "-revision", "abc", "-registry", "reg"}, wantErr: "-version is required"},
		{name: "stray argument", args: append(req, "x"), wantErr: `unexpected argument "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.env)
			o, err := parse(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || o.created != tt.created {
				t.Fatalf("parse = created %d, %v, want %d", o.created, err, tt.created)
			}
		})
	}
}
