package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ cmd, args string }

// readDockerfile splits the Dockerfile at path into its stages' instructions,
// keyed by stage name (the AS of each FROM).
func readDockerfile(t *testing.T, path string) map[string][]instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string][]instruction{}
	stage := ""
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		cmd, args = strings.ToUpper(cmd), strings.TrimSpace(args)
		if cmd == "FROM" {
			f := strings.Fields(args)
			if len(f) < 3 || !strings.EqualFold(f[len(f)-2], "AS") {
				t.Fatalf("Dockerfile: FROM %s names no stage", args)
			}
			stage = f[len(f)-1]
		}
		stages[stage] = append(stages[stage], instruction{cmd, args})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// TestDockerfileAgrees: the Dockerfile's final stages give the images the
// same runtime contract as tools/image (entrypoint, default command, user,
// ports, volume, environment, labels), stamp the same release variables,
// and default to release.mk's version and registry.
func TestDockerfileAgrees(t *testing.T) {
	root := filepath.Join("..", "..")
	stages := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	mk, err := os.ReadFile(filepath.Join(root, "internal", "release", "release.mk"))
	if err != nil {
		t.Fatal(err)
	}
	release := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(AEROLITH_\w+) = (\S+)$`).FindAllStringSubmatch(string(mk), -1) {
		release[m[1]] = m[2]
	}
	wantArgs := map[string]string{"VERSION": release["AEROLITH_VERSION"], "REGISTRY": release["AEROLITH_REGISTRY"]}
	ldflags := regexp.MustCompile(`-X (\S+)\.(version|revision|registry)=\$(\w+)`)
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			final, ok := stages[s.Name]
			if !ok {
				t.Fatalf("Dockerfile has no stage %q", s.Name)
			}
			buildStage := "build-" + strings.TrimPrefix(s.Name, "aerolith-")
			build, ok := stages[buildStage]
			if !ok {
				t.Fatalf("Dockerfile has no stage %q", buildStage)
			}
			got := map[string]any{}
			var env, expose []string
			labels := map[string]string{}
			for _, in := range final {
				switch in.cmd {
				case "ENTRYPOINT", "CMD", "VOLUME":
					var v []string
					if err := json.Unmarshal([]byte(in.args), &v); err != nil {
						t.Fatalf("%s %s: not the JSON form: %v", in.cmd, in.args, err)
					}
					got[in.cmd] = v
				case "USER":
					got["USER"] = in.args
				case "ENV":
					env = append(env, in.args)
				case "EXPOSE":
					expose = append(expose, strings.Fields(in.args)...)
				case "LABEL":
					for _, m := range regexp.MustCompile(`(\S+?)="([^"]*)"`).FindAllStringSubmatch(in.args, -1) {
						labels[m[1]] = m[2]
					}
				}
			}
			want := map[string]any{"ENTRYPOINT": s.entrypoint(), "USER": "65532"}
			if s.Cmd != nil {
				want["CMD"] = s.Cmd
			}
			if s.Volumes != nil {
				want["VOLUME"] = s.Volumes
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Dockerfile stage %s: %v, want %v", s.Name, got, want)
			}
			if !reflect.DeepEqual(env, s.Env) {
				t.Errorf("Dockerfile stage %s: ENV %q, want %q", s.Name, env, s.Env)
			}
			if !reflect.DeepEqual(expose, s.Ports) {
				t.Errorf("Dockerfile stage %s: EXPOSE %q, want %q", s.Name, expose, s.Ports)
			}
			m := meta{Version: "$VERSION", Revision: "$REVISION"}
			wantLabels := m.labels(s)
			wantLabels["org.opencontainers.image.created"] = "$CREATED"
			if !reflect.DeepEqual(labels, wantLabels) {
				t.Errorf("Dockerfile stage %s: LABEL %v, want %v", s.Name, labels, wantLabels)
			}

			// The build stage: the same -X variables, release.mk's defaults.
			var run string
			for _, in := range build {
				switch in.cmd {
				case "ARG":
					if k, v, ok := strings.Cut(in.args, "="); ok && wantArgs[k] != "" && v != wantArgs[k] {
						t.Errorf("stage %s: ARG %s=%s, want %s (release.mk)", buildStage, k, v, wantArgs[k])
					}
				case "RUN":
					run += in.args
				}
			}
			xs := ldflags.FindAllStringSubmatch(run, -1)
			if len(xs) != 3 {
				t.Fatalf("stage %s stamps %d release variables, want version, revision and registry: %s", buildStage, len(xs), run)
			}
			for _, x := range xs {
				if x[1] != releasePkg {
					t.Errorf("stage %s: -X %s.%s, want package %s", buildStage, x[1], x[2], releasePkg)
				}
			}
			for _, flag := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", s.Package} {
				if !strings.Contains(run, flag) {
					t.Errorf("stage %s does not build with %s", buildStage, flag)
				}
			}
		})
	}
}
