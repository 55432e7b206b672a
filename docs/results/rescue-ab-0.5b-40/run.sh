#!/usr/bin/env bash
# The exact command of this A/B (resumable: run it again after a kill and it continues from store.sqlite).
cd "$(dirname "$0")"
tfagent eval run terraform-aws --endpoints default,full --reference default --max-attempts 3 \
  --concurrency 4 --provider-mirror "${MIRROR:-$HOME/.cache/tfagent/demo/mirror}" --db store.sqlite --out . \
  --judge both --ready-timeout 60 --tasks "$(cat tasks.txt)"
