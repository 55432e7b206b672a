#!/usr/bin/env bash
# The exact command (resumable: run it again after a kill and it continues from store.sqlite).
cd "$(dirname "$0")"
tfagent eval run terraform-aws --endpoints full --tags edit --max-attempts 3 --concurrency 3 \
  --provider-mirror "${MIRROR:-$HOME/.cache/tfagent/demo/mirror}" --db store.sqlite --out . \
  --judge both --ready-timeout 60
