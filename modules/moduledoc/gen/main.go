// Command gen writes README.md of every module under the folder it is
// given (go generate in modules/moduledoc).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aerolithdb/aerolith/modules/moduledoc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen MODULES_DIR")
		os.Exit(2)
	}
	dirs, err := moduledoc.Dirs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, d := range dirs {
		m, err := moduledoc.Load(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(d, "README.md"), []byte(m.README()), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
