#!/usr/bin/env bash
# Strict checks of deploy/kubernetes: tools/k8s-validate decodes every manifest into its
# Kubernetes API type (unknown fields rejected) and cross-checks references; its tests also
# prove that it rejects bad manifests. Needs Go and the Go module proxy (k8s.io/api).
#
#   scripts/check-kubernetes.sh
set -euo pipefail
cd "$(dirname "$0")/../tools/k8s-validate"
go test ./...
go run . ../../deploy/kubernetes
