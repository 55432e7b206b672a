#!/bin/bash
# tfagent eval as a Slurm job array: array task k runs shard k of 8 into its own database on the
# shared file system; a dependent job merges them.
#   sbatch examples/shards/slurm-array.sh
#SBATCH --job-name=tfagent-eval
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --output=logs/eval-%A_%a.log
set -euo pipefail
SHARDS=8
RESULTS=${RESULTS:-$PWD/results}
mkdir -p "$RESULTS"
# tfagent.toml (the endpoints) is read from the submit directory; a re-submitted shard resumes.
tfagent eval run terraform-aws --endpoints iq2,q4 --reference q4 --samples 3 \
  --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" \
  --provider-mirror "${TF_MIRROR:-/shared/tf-mirror}" \
  --db "$RESULTS/shard-${SLURM_ARRAY_TASK_ID}.db"
# Merge once every array task is done (run this file's sibling command after the array):
#   sbatch --dependency=afterok:$ARRAY_JOB_ID --wrap \
#     "tfagent eval merge $RESULTS/all.db $RESULTS/shard-*.db && tfagent eval report --db $RESULTS/all.db"
