#!/bin/sh
# The file tree of the container image, built the same way by the Dockerfile's
# build stage and by test/ship/imageTree.test.ts, so that the test runs what
# the image holds: compiled JavaScript (dist/), the bin, the migrations and the
# production dependencies only (from the lockfile), read-only for everyone.
# Needs the development dependencies installed (TypeScript compiles dist/).
# Usage: scripts/build-image-tree.sh OUT_DIR
set -eu
out=${1:?usage: scripts/build-image-tree.sh OUT_DIR}
cd "$(dirname "$0")/.."

rm -rf dist
node node_modules/typescript/bin/tsc -p tsconfig.build.json

rm -rf "$out"
mkdir -p "$out"
cp -R bin dist migrations package.json package-lock.json "$out"/
# No production dependency needs an install script; skipping them keeps the
# build from running code it does not need.
(cd "$out" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
chmod -R a-w,a+rX "$out"
