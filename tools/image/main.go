// Command image builds the project's container images without a container
// engine: it cross-compiles the static binaries (CGO_ENABLED=0, -trimpath,
// the release stamped by -ldflags), assembles each image from scratch (a
// base layer with the non-root user 65532, CA roots and /tmp; a layer with
// the binary and its writable volume) and writes, per image, an OCI image
// layout (a multi-platform index; push it with skopeo or crane) and a
// docker-archive per platform (docker load). Timestamps are the commit's,
// tar entries sorted, so one commit gives the same digests on any machine
// with the same Go toolchain. `make images` runs it; the Dockerfile at the
// repository root builds the same images with docker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	root, out, goCmd          string
	version, revision, reg    string
	platforms                 string
	created                   int64
	dockerArchive, keepBinary bool
}

func parse(args []string, errw io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(errw)
	fs.StringVar(&o.root, "root", "", "the repository root (required)")
	fs.StringVar(&o.out, "out", "", "output folder: <name>/ (OCI layout) and <name>-<os>-<arch>.tar (docker-archive) per image (required)")
	fs.StringVar(&o.goCmd, "go", "go", "the go command that builds the binaries")
	fs.StringVar(&o.version, "version", "", "release version, v1.2.3 (required; make images passes internal/release/release.mk's)")
	fs.StringVar(&o.revision, "revision", "", "source revision, the git commit (required)")
	fs.StringVar(&o.reg, "registry", "", "registry the images are named under, ghcr.io/aerolithdb (required)")
	fs.StringVar(&o.platforms, "platforms", "linux/"+runtime.GOARCH, "comma-separated linux platforms")
	fs.Int64Var(&o.created, "created", -1, "creation time, Unix seconds (default: $SOURCE_DATE_EPOCH, else 0)")
	fs.BoolVar(&o.dockerArchive, "docker-archive", true, "also write a docker-archive tarball per image and platform")
	fs.BoolVar(&o.keepBinary, "keep-binaries", false, "keep the built binaries in <out>/bin/<os>-<arch>/")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, req := range []struct{ name, v string }{{"root", o.root}, {"out", o.out}, {"version", o.version}, {"revision", o.revision}, {"registry", o.reg}} {
		if req.v == "" {
			return o, fmt.Errorf("-%s is required", req.name)
		}
	}
	if o.created < 0 {
		o.created = 0
		if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return o, fmt.Errorf("SOURCE_DATE_EPOCH %q: want Unix seconds", s)
			}
			o.created = n
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parse(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ps, err := parsePlatforms(o.platforms)
	if err != nil {
		return err
	}
	cfg := buildConfig{Go: o.goCmd, Root: o.root, Version: o.version, Revision: o.revision, Registry: o.reg}
	m := meta{Version: o.version, Revision: o.revision, Created: time.Unix(o.created, 0).UTC()}
	results, err := buildAll(ctx, cfg, m, specs, ps, o.out, o.dockerArchive, o.keepBinary)
	if err != nil {
		return err
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%s %s@%s\n", filepath.Join(o.out, r.Name), r.Ref, r.Digest)
		for _, pl := range r.Platforms {
			fmt.Fprintf(stdout, "  %-14s %s  %5.1f MiB compressed, %5.1f MiB unpacked", pl.Platform, pl.Digest,
				float64(pl.Compressed)/(1<<20), float64(pl.Unpacked)/(1<<20))
			if pl.Archive != "" {
				fmt.Fprintf(stdout, "  docker load -i %s", pl.Archive)
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}
