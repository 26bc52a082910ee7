"""`spatialthinker` CLI with a record of what each process scored, for tests/test_multiprocess.py.

Launched as a script by ``accelerate launch``. It wraps the reward that ``run_grpo`` builds (the production
``TelemetryReward``) so that every call also appends, to ``$SCORED_DIR/rank{RANK}.jsonl``, the step, the image ids and
the completions it scored; then it runs the ordinary CLI. The test reads these files to check that every completion
of a rollout batch is scored exactly once, by one process, and that processes sample different completions.
"""

from __future__ import annotations

import json
import os
from typing import Any

import spatialthinker.train.grpo as grpo
from spatialthinker.cli import main
from spatialthinker.rewards.trl import completion_text

_build = grpo.build_reward_funcs


class ScoredLog:
    """Calls the wrapped reward, then logs what it scored on this process."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.__name__ = inner.__name__  # TRL's metric names come from it
        self.path = os.path.join(os.environ["SCORED_DIR"], f"rank{os.environ.get('RANK', '0')}.jsonl")

    def __call__(self, prompts: Any = None, completions: Any = None, **kwargs: Any) -> list[float]:
        rewards = self.inner(prompts=prompts, completions=completions, **kwargs)
        record = {"step": kwargs["trainer_state"].global_step + 1, "image_id": list(kwargs.get("image_id") or []),
                  "completions": [completion_text(c) for c in completions], "rewards": list(rewards)}
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return rewards


def _logged_reward_funcs(config: Any) -> list[Any]:
    return [ScoredLog(func) for func in _build(config)]


grpo.build_reward_funcs = _logged_reward_funcs

if __name__ == "__main__":
    raise SystemExit(main())
