#!/usr/bin/env bash
# docs/PROOF.md quotes the assumption matrix that `cryolock sim audit`
# prints. Regenerate it into a copy and fail if the docs are out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp docs/PROOF.md "$tmp/PROOF.md"
go run ./cmd/cryolock sim audit --update "$tmp/PROOF.md" > "$tmp/audit.out" 2>&1 || {
  cat "$tmp/audit.out"; echo "cryolock sim audit failed"; exit 1; }
if ! diff -u docs/PROOF.md "$tmp/PROOF.md"; then
  echo "docs/PROOF.md is out of date: run 'go run ./cmd/cryolock sim audit --update docs/PROOF.md'"
  exit 1
fi
echo "docs/PROOF.md audit section is up to date; cryolock sim audit exits 0"
