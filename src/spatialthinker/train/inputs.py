"""Check everything a training run reads before it loads a model, warms up or writes a file.

A bad reward name or a missing dataset used to surface after minutes of warm-up SFT, leaving half a run folder
behind. Here each input is checked in seconds: model and dataset (a local-looking name must exist; a hub id is
looked up once, with a short timeout, so offline use fails at once and says so), reward, prompt style, and the
state of the output folder (see ``runtime.prepare_output`` for what a used folder means).
"""

from __future__ import annotations

import os
import re

from spatialthinker.errors import InputError
from spatialthinker.train.config import CommonConfig, GRPORecipe

#: A Hugging Face repo id: ``name`` or ``owner/name`` of letters, digits, ``-``, ``_`` and ``.``.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
#: Endings that only files have: a name ending in one is a path, never a hub id.
_FILE_ENDINGS = (".parquet", ".arrow", ".json", ".jsonl", ".csv", ".tsv", ".txt", ".yaml", ".yml", ".safetensors",
                 ".bin", ".pt", ".pth", ".gguf", ".zip", ".tar", ".gz")
#: Seconds one hub lookup may take; offline machines fail in well under this.
HUB_TIMEOUT_S = 10.0


def looks_local(name: str) -> bool:
    """Whether ``name`` reads as a filesystem path rather than a hub id (``./x``, ``/x``, ``~/x``, ``a/b/c``, ``x.parquet``)."""
    return (name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1
            or name.lower().endswith(_FILE_ENDINGS) or _HUB_ID.fullmatch(name) is None)


def check_source(name: str, option: str, kind: str) -> None:
    """A ``--model``/``--dataset`` value is an existing path or a reachable (or cached) hub id.

    Args:
        name: the value.
        option: the flag to name in messages (``--dataset``).
        kind: ``"model"`` or ``"dataset"`` (which hub namespace to look in).
    """
    if os.path.exists(os.path.expanduser(name)):
        return
    if looks_local(name):
        raise InputError(f"{option} {name}: no such file or directory")
    check_hub_id(name, option, kind)


def _cached(name: str, kind: str) -> bool:
    from huggingface_hub.constants import HF_HUB_CACHE

    return os.path.isdir(os.path.join(HF_HUB_CACHE, f"{kind}s--{name.replace('/', '--')}"))


def check_hub_id(name: str, option: str, kind: str) -> None:
    """Look ``name`` up on the hub once (cache first); fail within seconds when it is missing or the hub unreachable."""
    if _cached(name, kind):
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or (
        kind == "dataset" and os.environ.get("HF_DATASETS_OFFLINE", "") not in ("", "0"))
    hint = f"{option} {name}: not a local path, and"
    if offline:
        raise InputError(f"{hint} not in the Hugging Face cache (HF_HUB_OFFLINE is set); download it first or give a path")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    api = HfApi()
    lookup = api.dataset_info if kind == "dataset" else api.model_info
    try:
        lookup(name, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return  # exists; loading it will ask for a token
    except RepositoryNotFoundError:
        raise InputError(f"{hint} no such {kind} on the Hugging Face Hub") from None
    except HfHubHTTPError:
        return  # the hub answered: let the loader report what it says
    except Exception as error:  # noqa: BLE001 - any transport failure means the hub cannot be reached
        raise InputError(f"{hint} the Hugging Face Hub cannot be reached ({type(error).__name__}): offline? "
                         f"Download it first or give a local path") from None


def check_model(name: str) -> None:
    """``tiny``/``tiny-SIZE``, a local model folder (with ``config.json``), or a hub model id."""
    if name.startswith("tiny"):
        from spatialthinker.train.tiny import SIZES

        size = name.partition("-")[2] or "small"
        if name not in ("tiny",) and (not name.startswith("tiny-") or size not in SIZES):
            raise InputError(f"--model {name}: the offline tiny model is tiny or tiny-SIZE, SIZE one of {', '.join(SIZES)}")
        return
    path = os.path.expanduser(name)
    if os.path.isdir(path):
        if not any(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "adapter_config.json")):
            raise InputError(f"--model {name}: a folder without config.json is not a saved model")
        return
    if os.path.exists(path):
        raise InputError(f"--model {name}: expected a model folder (from save_pretrained), got a file")
    check_source(name, "--model", "model")


def check_reward(config: GRPORecipe) -> None:
    """The reward resolves to a callable and its ``reward_config`` is valid."""
    from spatialthinker.registry import resolve_callable
    from spatialthinker.rewards import RewardConfig
    from spatialthinker.rewards.registry import REWARDS

    try:
        RewardConfig(**config.reward_config)
    except (TypeError, ValueError) as error:
        raise InputError(f"reward_config: {error}") from None
    if config.reward in ("dense", "sparse"):
        return
    try:
        factory = resolve_callable(config.reward, REWARDS)
    except KeyError as error:
        message = error.args[0] if error.args else str(error)
        raise InputError(f"--reward {config.reward}: not a registered reward nor an importable callable ({message})") from None
    if not callable(factory):
        raise InputError(f"--reward {config.reward}: resolves to a {type(factory).__name__}, not a callable")


def check_prompt_style(style: str | None) -> None:
    from spatialthinker.prompts import PROMPT_STYLES

    if style is not None and style not in PROMPT_STYLES:
        raise InputError(f"prompt_style {style!r}: expected one of {', '.join(PROMPT_STYLES.names())}")


def check_run_inputs(config: CommonConfig) -> None:
    """Every check above that applies to ``config``; raises ``InputError`` on the first problem."""
    from spatialthinker.train.runtime import check_output_folder

    if not config.dataset:
        raise InputError("--dataset is required (or set `dataset:` in the preset)")
    from spatialthinker.train.data import check_local_dataset, required_columns

    check_model(config.model)
    check_source(config.dataset, "--dataset", "dataset")
    grpo = isinstance(config, GRPORecipe)
    style = config.resolved_prompt_style if grpo else getattr(config, "prompt_style", "direct")
    check_prompt_style(style)
    if os.path.exists(config.dataset):
        check_local_dataset(config.dataset, config.split, required_columns("grpo" if grpo else "sft", style))
    if grpo:
        check_reward(config)
        if config.use_vllm:
            import importlib.util

            if importlib.util.find_spec("vllm") is None:
                raise InputError("--use-vllm: vLLM is not installed (`pip install vllm`, GPU machines only); drop "
                                 "--use-vllm to generate with transformers")
    check_output_folder(config)

