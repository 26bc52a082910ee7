#!/usr/bin/env bash
# Launch SpatialThinker GRPO on veRL. Run in an environment with veRL, vLLM, qwen_vl_utils and this package
# installed (veRL pins transformers < 5.11, so not the TRL environment). Multi-node: start a Ray cluster first
# (`ray start --head` on node 0, `ray start --address=HEAD:6379` on the others) and pass trainer.nnodes=N.
#   STVQA_VERL_TRAIN=data/verl/train.parquet STVQA_VERL_VAL=data/verl/val.parquet configs/verl/launch.sh [overrides]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export SPATIALTHINKER_VERL_REWARD="$(python -c 'import spatialthinker.train.verl as m; print(m.__file__)')"
exec python -m verl.trainer.main_ppo --config-path="$here" --config-name=spatialthinker_grpo "$@"
