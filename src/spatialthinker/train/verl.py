"""The veRL path for large clusters: the reward entry file veRL loads, and the recipe -> veRL settings mapping.

veRL loads its custom reward by *file path* (``custom_reward_function.path``) as a standalone module, so a
package-relative import there would fail; this file imports our reward absolutely and re-exports it. veRL itself is
never imported (it pins transformers < 5.11 and cannot share an environment with TRL 1.16; platform.md).
"""

from __future__ import annotations

from typing import Any

from spatialthinker.rewards.verl import compute_score

#: Columns of the veRL parquet written by ``spatialthinker.data.verl_export`` that the launch config relies on.
VERL_COLUMNS: tuple[str, ...] = ("data_source", "prompt", "images", "reward_model", "extra_info")


def verl_settings(recipe: Any, n_gpus: int = 4, nnodes: int = 1) -> dict[str, Any]:
    """Dotted veRL config keys equivalent to a ``GRPORecipe`` (prompt counts, not TRL's completion counts).

    Used by the consistency test against configs/verl/spatialthinker_grpo.yaml.
    """
    world = n_gpus * nnodes
    prompts_per_update = recipe.per_device_train_batch_size * world * recipe.gradient_accumulation_steps
    prompts_per_rollout = recipe.per_device_train_batch_size * world * (
        recipe.steps_per_generation or recipe.gradient_accumulation_steps)
    updates_per_rollout = prompts_per_rollout // prompts_per_update
    return {
        "data.train_batch_size": prompts_per_rollout // recipe.num_generations,
        "data.max_response_length": recipe.max_completion_length,
        "actor_rollout_ref.actor.ppo_mini_batch_size": prompts_per_update // recipe.num_generations,
        "actor_rollout_ref.actor.optim.lr": recipe.learning_rate,
        "actor_rollout_ref.actor.optim.weight_decay": recipe.weight_decay,
        "actor_rollout_ref.actor.grad_clip": recipe.max_grad_norm,
        "actor_rollout_ref.actor.kl_loss_coef": recipe.beta,
        "actor_rollout_ref.actor.clip_ratio_low": recipe.epsilon,
        "actor_rollout_ref.actor.clip_ratio_high": recipe.epsilon_high,
        "actor_rollout_ref.actor.clip_ratio_c": recipe.delta,
        "actor_rollout_ref.rollout.n": recipe.num_generations,
        "actor_rollout_ref.rollout.temperature": recipe.temperature,
        "trainer.total_training_steps": recipe.max_steps // max(updates_per_rollout, 1),
    }


__all__ = ["VERL_COLUMNS", "compute_score", "verl_settings"]
