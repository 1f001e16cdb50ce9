#!/usr/bin/env bash
# Fails when schema.graphql or examples/generated differ from a fresh generation, i.e. when
# someone changed the schema or an example operation without running
# `npm run schema:print && npm run codegen` and committing the result.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run --silent schema:print
npm run --silent codegen >/dev/null

paths=(schema.graphql examples/generated)
stale=0
if ! git diff --exit-code --stat -- "${paths[@]}"; then
  stale=1
fi
untracked=$(git status --porcelain --untracked-files=all -- "${paths[@]}" | grep '^??' || true)
if [ -n "$untracked" ]; then
  printf 'Untracked generated files:\n%s\n' "$untracked"
  stale=1
fi

if [ "$stale" -ne 0 ]; then
  echo "check-generated: schema.graphql or examples/generated is out of date." >&2
  echo "Run 'npm run schema:print && npm run codegen' and commit the result." >&2
  exit 1
fi
echo "check-generated: schema.graphql and examples/generated are up to date."
