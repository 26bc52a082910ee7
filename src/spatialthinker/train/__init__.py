"""Training recipes on TRL: dense-reward GRPO, sparse GRPO and SFT; the tiny offline model; the veRL path."""
