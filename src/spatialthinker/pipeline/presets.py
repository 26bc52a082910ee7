"""Quickstart presets: how much data, training and evaluation each one-command run does, with the reasons.

Every number is a budget decision for a 2-core CPU machine with the tiny offline model; the same stages run a
real model on a GPU when ``--model`` names one (the preset then only sets the data and step counts).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    """Sizes of one quickstart run.

    Parameters:
        > Data (simulated scenes, data.md §7)
        num_scenes (`int`): rendered rooms; each yields several questions, split into train and val.
        image_size (`int`): square render size in pixels (small renders keep the tiny model's image tokens few).
        > Model
        tiny_size (`str`): size of the offline tiny Qwen2.5-VL (``micro``, ``small``, ``medium``) for ``--model tiny``.
        max_gt_objects (`int`): with the tiny model, train and evaluate only on questions whose GT scene has at
            most this many objects (short answers; see ``stages.make_subset``).
        > SFT warm-up (a random policy gives every completion of a group the same reward: zero advantage)
        sft_steps (`int`), sft_learning_rate (`float`), sft_batch_size (`int`).
        > Dense-reward GRPO
        grpo_steps (`int`), grpo_learning_rate (`float`), num_generations (`int`), grpo_batch_size (`int`),
        max_completion_length (`int`), temperature (`float`).
        > Held-out evaluation (before and after training, on the val split)
        eval_limit (`int`): val questions evaluated at each point.
        eval_max_new_tokens (`int`): generation budget per question.
    """

    name: str
    num_scenes: int = field(metadata={"help": "Simulated scenes to render."})
    image_size: int = field(metadata={"help": "Square render size (px)."})
    tiny_size: str = field(default="small", metadata={"help": "Tiny model size for --model tiny."})
    max_gt_objects: int = field(default=2, metadata={"help": "Tiny model: keep questions with <= N GT objects."})
    sft_steps: int = field(default=20, metadata={"help": "SFT warm-up optimizer steps."})
    sft_learning_rate: float = field(default=2e-3, metadata={"help": "SFT learning rate (tiny random model)."})
    sft_batch_size: int = field(default=8, metadata={"help": "SFT examples per step."})
    grpo_steps: int = field(default=3, metadata={"help": "GRPO optimizer steps."})
    grpo_learning_rate: float = field(default=1e-4, metadata={"help": "GRPO learning rate."})
    num_generations: int = field(default=4, metadata={"help": "Completions per prompt (group size)."})
    grpo_batch_size: int = field(default=8, metadata={"help": "Completions per optimizer step."})
    max_completion_length: int = field(default=160, metadata={"help": "Max new tokens per rollout."})
    temperature: float = field(default=0.7, metadata={"help": "Rollout sampling temperature (a barely trained "
                                                                 "policy at 1.0 rarely writes all four tags)."})
    eval_limit: int = field(default=8, metadata={"help": "Held-out questions per evaluation."})
    eval_max_new_tokens: int = field(default=160, metadata={"help": "Max new tokens per eval answer."})
    workers: int = field(default=1, metadata={"help": "Rendering worker processes."})
    world: str = field(default="room", metadata={"help": "Simulated scene family: room or blocks (the "
                                                          "learnable miniature, data/sim/blocks.py)."})
    seed: int = field(default=0, metadata={"help": "Seed of scenes, model init and training."})

    def __post_init__(self) -> None:
        if self.num_scenes < 2:
            raise ValueError("num_scenes must be >= 2: the val split needs at least one scene of its own.")
        if self.grpo_batch_size % self.num_generations:
            raise ValueError(f"grpo_batch_size ({self.grpo_batch_size}) must be a multiple of num_generations "
                             f"({self.num_generations}): TRL fills whole groups.")
        if min(self.sft_steps, self.grpo_steps, self.eval_limit) < 0:
            raise ValueError("step counts and eval_limit must be >= 0.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Completion and answer cap of the blocks-world presets: the longest SFT response (a distance question about
#: three objects, whose scene lists three boxes and three relations) is ~197 tokens of the tiny tokenizer; a
#: smaller cap cuts it before "</answer>", so that category can never be right (``tests/test_blocks.py``).
BLOCKS_MAX_TOKENS = 224

PRESETS: dict[str, Preset] = {
    # The README's main command: <= 3 min on 2 cores. The blocks world (data/sim/blocks.py) at 112 px, 180 SFT
    # steps at lr 1e-3: the fastest of the measured settings to learn part of the four-tag format, not to answer
    # (docs/training.md, "Learning in miniature": answering from the image needs the mini preset's budget).
    # Then 30 GRPO steps at lr 1e-4: the format is what this policy controls, and the gated reward pays for it
    # (held-out format 0.44 -> 0.95 on these 96 questions; on 48, 30 steps at 1e-4 gave 0.98 where 10 steps at
    # 2e-5 gave 0.42 and 30 at 2e-4 gave 0.79; docs/training.md, "Learning in miniature").
    "smoke": Preset("smoke", num_scenes=300, image_size=112, world="blocks", max_gt_objects=3, sft_steps=180,
                    sft_learning_rate=1e-3, sft_batch_size=8, grpo_steps=30, grpo_learning_rate=1e-4,
                    grpo_batch_size=8, num_generations=4, max_completion_length=BLOCKS_MAX_TOKENS, eval_limit=96,
                    eval_max_new_tokens=BLOCKS_MAX_TOKENS),
    # <= 20 min on 2 cores: 600 scenes (fresh images keep a 3 M-parameter model from memorising them), 2400 SFT
    # steps at lr 3e-4 (at 1e-3 the image informed the answer ~2x more slowly; the existence chain forms after
    # ~500 steps of short targets, docs/training.md) and 60 GRPO steps. 240 of the ~770 val questions are
    # evaluated at each point (~18 s each): the accuracy's 95% interval is then about +-0.06 instead of +-0.09.
    "mini": Preset("mini", num_scenes=600, image_size=112, world="blocks", max_gt_objects=3, sft_steps=2400,
                   sft_learning_rate=3e-4, sft_batch_size=8, grpo_steps=60, grpo_learning_rate=2e-5,
                   grpo_batch_size=8, num_generations=4, max_completion_length=BLOCKS_MAX_TOKENS, eval_limit=240,
                   eval_max_new_tokens=BLOCKS_MAX_TOKENS),
    # For the test suite only: the smallest run that still exercises every stage.
    "test": Preset("test", num_scenes=4, image_size=96, tiny_size="micro", sft_steps=3, sft_batch_size=4,
                   grpo_steps=2, grpo_batch_size=4, num_generations=2, eval_limit=4, max_completion_length=32,
                   eval_max_new_tokens=32),
}


#: Presets of ``spatialthinker experiment dense-vs-sparse``: ``sft_*`` is the shared warm start, ``grpo_*`` the
#: budget of every arm (the continued-SFT arm gets the same steps, sequences per step and learning rate).
EXPERIMENT_PRESETS: dict[str, Preset] = {
    # <= 60 min on 2 cores: the mini preset's data, warm start, token cap and 240 held-out questions (here on
    # dense and sparse targets alike), then 30 steps of 8 sequences per arm and seed.
    "experiment": Preset("experiment", num_scenes=600, image_size=112, world="blocks", max_gt_objects=3,
                         sft_steps=2400, sft_learning_rate=3e-4, sft_batch_size=8, grpo_steps=30,
                         grpo_learning_rate=2e-5, num_generations=4, grpo_batch_size=8,
                         max_completion_length=BLOCKS_MAX_TOKENS, temperature=1.0, eval_limit=240,
                         eval_max_new_tokens=BLOCKS_MAX_TOKENS),
    # For the test suite: seconds, every stage and every piece of bookkeeping (budgets, seeds, splits).
    "experiment-test": Preset("experiment-test", num_scenes=4, image_size=64, world="blocks", tiny_size="micro",
                              max_gt_objects=3, sft_steps=2, sft_batch_size=2, grpo_steps=1, grpo_batch_size=2,
                              num_generations=2, max_completion_length=12, eval_limit=3, eval_max_new_tokens=12),
}


def get_preset(name: str | Preset) -> Preset:
    """The preset called ``name`` (a ``Preset`` passes through); unknown names list the known ones."""
    if isinstance(name, Preset):
        return name
    known = {**PRESETS, **EXPERIMENT_PRESETS}
    if name not in known:
        raise ValueError(f"unknown preset {name!r}; known presets: {', '.join(known)}.")
    return known[name]
