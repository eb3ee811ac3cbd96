# The release identity of this source tree, its one source of truth: the
# Makefile includes this file (make images and the Dockerfile's build
# arguments), and package internal/release embeds it (what `aerolith
# version` prints and the images the operator deploys by default). The CRD's
# default spec.version, the Helm chart's appVersion and the kustomization's
# image tag must equal AEROLITH_VERSION; operator/controller's
# TestReleaseIdentityAgrees fails when one does not.
AEROLITH_VERSION = v0.1.0
AEROLITH_REGISTRY = ghcr.io/aerolithdb
