#!/bin/sh
# build.sh DIR — builds tflint into DIR/tflint and the official aws,
# google and azurerm rulesets into DIR/plugins/tflint-ruleset-NAME from
# the Go module proxy, each at the version its own small module here pins
# (tflint/, aws/, google/, azurerm/: a go.mod whose only tool is that
# module, so its build list is exactly upstream's go.mod). DIR is under
# the git-ignored .tools/ (the Makefile's tools/tflint target). A binary
# is rebuilt only when it is missing or its build info names another
# version, so bumping one go.mod rebuilds just that binary.
#
# Why modules and not `go install MODULE@VERSION`: for the rulesets
# go install asks the proxy for the module's version list (to look for a
# deprecation notice), which proxy.golang.org refuses here (403); a
# module that requires the exact version needs no list.
#
# tflint finds the rulesets offline: make hands it DIR/plugins as
# TFLINT_PLUGIN_DIR and the modules' .tflint.hcl enable them without
# source/version, so `tflint --init` is never run and nothing is
# downloaded at lint time. The terraform ruleset is bundled in tflint.
set -eu
dir=${1:?usage: build.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir/plugins"
dir=$(cd "$dir" && pwd)

# build NAME BINARY: the tool of module $here/NAME into BINARY.
build() {
	mod=$(sed -n 's/^tool //p' "$here/$1/go.mod")
	version=$(cd "$here/$1" && go list -m -f '{{.Version}}' "$mod")
	if [ -x "$2" ] && go version -m "$2" 2>/dev/null | awk '$1 == "mod" { print $2, $3 }' | grep -qx "$mod $version"; then
		return 0
	fi
	echo "building $mod $version into $(dirname "$2") (minutes, once)" >&2
	(cd "$here/$1" && GOFLAGS=-buildvcs=false go build -trimpath -o "$2.tmp" "$mod")
	mv "$2.tmp" "$2"
}

build tflint "$dir/tflint"
for r in aws google azurerm; do
	build "$r" "$dir/plugins/tflint-ruleset-$r"
done
