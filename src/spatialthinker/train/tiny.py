"""Build a tiny Qwen2.5-VL (or Qwen3-VL) and its processor offline, so every training path runs with no hub access
and on CPU.

The model is a real ``Qwen2_5_VLForConditionalGeneration`` (or ``Qwen3VLForConditionalGeneration`` with
``--model tiny-qwen3vl``) with a shrunken config and random weights; the tokenizer
is a byte-level BPE trained here with the ``tokenizers`` library on our own prompt and answer texts
(platform.md, "A tiny Qwen2.5-VL built offline"). Nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

#: Qwen's special tokens, in Qwen's order; added as *special* tokens.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
    "<|video_pad|>",
)
#: Format tags, added as *ordinary* tokens: TRL decodes completions with ``skip_special_tokens=True``, so a
#: special-token tag would vanish before the reward sees it.
FORMAT_TOKENS: tuple[str, ...] = tuple(f"<{'/' if close else ''}{tag}>"
                                       for tag in ("observe", "scene", "think", "answer") for close in (False, True))

#: Whole numbers below this are one token each (Pix2Seq-style coordinate tokens): a box is four tokens, not up to
#: twelve digits, and the embedding of "57" can learn where 57 px is. Larger numbers split into such chunks.
NUMBER_TOKENS = 1000

#: ChatML template in Qwen2-VL's shape (image parts become vision_start + image_pad + vision_end); no default
#: system message, which would cost the tiny model ~10 tokens per sample for nothing.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part %}{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

#: Model sizes: (text hidden, text layers, heads, vision hidden, vision depth, vocab). "small" is ~3.4 M params.
#: ``micro`` and ``small`` have no vision transformer blocks: patches go through the projection and the 2x2
#: merger MLP straight into the language model (a linear patch encoder, as in Fuyu). Trained from scratch, the
#: model without them named the classes in 0.80 of held-out blocks images after 400 steps, with four blocks 0.54,
#: and its steps were 35% cheaper (``benchmarks/vision_learning.py``; docs/training.md, "Learning in miniature").
SIZES: dict[str, tuple[int, int, int, int, int, int]] = {
    "micro": (64, 2, 2, 32, 0, 1024),
    "small": (256, 4, 4, 128, 0, 2048),
    "medium": (384, 6, 6, 192, 6, 4096),
}
#: Pixel limits of the tiny processor: a 224x224 image becomes 16x16 patches -> 64 merged image tokens.
TINY_MIN_PIXELS = 56 * 56
TINY_MAX_PIXELS = 224 * 224


def _corpus(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Texts the tokenizer learns merges from: every prompt style, JSON scene graphs, answers and tags, plus
    ``extra`` (a run's own questions and answers, so its labels and phrasings become few tokens)."""
    import random

    from spatialthinker.prompts import SHORT_EVAL_INSTRUCTION, SPARSE_INSTRUCTION, TRAINING_INSTRUCTION

    rng = random.Random(0)
    labels = ["man", "woman", "cup", "table", "dog", "cat", "car", "bike", "chair", "sofa", "lamp", "box",
              "red_box", "blue_box", "green_box", "person", "tree", "bench", "traffic_light", "plate"]
    predicates = ["left of", "right of", "above", "below", "behind", "in front of", "on", "near", "holding"]
    texts = [TRAINING_INSTRUCTION, SHORT_EVAL_INSTRUCTION, SPARSE_INSTRUCTION]
    # the chat template's own words ("user", "assistant", "Options:") as they appear around every sample
    texts += ["<|im_start|>user\nQ. Where is it?\nOptions:\n(A) left\n(B) right<|im_end|>\n<|im_start|>assistant\n"] * 50
    for _ in range(400):
        a, b = rng.sample(labels, 2)
        boxes = [[rng.randint(0, 600) for _ in range(4)] for _ in range(2)]
        scene = {"objects": [{"id": f"{a}.1", "bbox": boxes[0]}, {"id": f"{b}.1", "bbox": boxes[1]}],
                 "relationships": [{"subject": f"{a}.1", "predicate": rng.choice(predicates), "object": f"{b}.1"}]}
        option = rng.choice(predicates)
        texts.append(f"<observe> A {a} and a {b}. </observe>\n<scene> {json.dumps(scene)} </scene>\n"
                     f"<think> The {a} is {option} the {b}. </think>\n<answer> (A) {option} </answer>")
        texts.append(f"Image size: ({rng.randint(100, 2000)} x {rng.randint(100, 2000)})\n\nNow answer the "
                     f"following question:\nQ. Where is the {a} with respect to the {b}?\nOptions:\n(A) {option}\n"
                     f"(B) {rng.choice(predicates)}")
    return texts + list(extra)


def build_tokenizer(vocab_size: int = 2048, extra_texts: list[str] | tuple[str, ...] = ()):
    """Train a byte-level BPE (numbers below ``NUMBER_TOKENS`` one token each) and wrap it as a transformers
    fast tokenizer; ``extra_texts`` join the training corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    # Digits split first so coordinates are spelled digit by digit (learnable boxes); then GPT-2 style bytes.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(_corpus(extra_texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=list(SPECIAL_TOKENS[1:]))
    fast.add_tokens(list(FORMAT_TOKENS), special_tokens=False)
    # Ordinary added tokens are matched longest-first before the BPE runs, so "128" is one token and "1280"
    # becomes "128" + "0"; decoding gives back the exact digits.
    fast.add_tokens([str(n) for n in range(NUMBER_TOKENS)], special_tokens=False)
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # generation pads on the left
    return fast


#: Model families (transformers model types) the tiny build can make; their classes are in
#: ``train.model.QWEN_VL_CLASSES``.
FAMILIES = ("qwen2_5_vl", "qwen3_vl")
DEFAULT_FAMILY = "qwen2_5_vl"
#: What ``--model tiny-...`` may name besides a size.
FAMILY_ALIASES = {"qwen25vl": "qwen2_5_vl", "qwen3vl": "qwen3_vl"}


def build_tiny_config(tokenizer, size: str = "small", family: str = DEFAULT_FAMILY):
    """A config of the given size and family whose special token ids point into ``tokenizer``.

    ``qwen2_5_vl`` (the default) is what the presets and the measurements in docs/training.md use.
    ``qwen3_vl`` builds the same shapes as a Qwen3-VL, so the Qwen3-VL path (processor, rope index, TRL
    rollouts) runs offline too. It differs where image positions are concerned: Qwen2.5-VL's M-RoPE gives
    height and width contiguous sections at the *lowest* rotary frequencies (at head dim 64 they turn by
    0.01-0.0001 rad per grid step), while Qwen3-VL interleaves the sections over all frequencies and adds a
    learned absolute position to each patch. On the tiny model that did not change how well boxes are learned
    (``benchmarks/vision_learning.py --task box``: held-out IoU 0.20 vs 0.18 after 600 steps; docs/training.md).
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}.")
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {family!r}.")
    hidden, layers, heads, vision_hidden, depth, _ = SIZES[size]
    head_dim = hidden // heads
    half = head_dim // 2
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text_config = dict(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=max(1, heads // 2), max_position_embeddings=8192,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
    )
    vision_config = dict(
        depth=depth, hidden_size=vision_hidden, intermediate_size=vision_hidden * 2,
        num_heads=max(1, vision_hidden // 32), out_hidden_size=hidden, patch_size=14, spatial_merge_size=2,
        temporal_patch_size=2,
    )
    special = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                   vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                   tie_word_embeddings=True)
    if family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        # Interleaved sections (t, h, w, t, h, w, ...): height and width each get a third of the frequencies,
        # the fast ones included. The position table covers the 8x8 patches of a 112 px image; larger images
        # interpolate it (as Qwen3-VL does for every image).
        section = [half - 2 * (half // 3), half // 3, half // 3]
        text_config.update(head_dim=head_dim, rope_parameters={
            "rope_type": "default", "rope_theta": 10000.0, "mrope_section": section, "mrope_interleaved": True})
        vision_config.update(num_position_embeddings=64, deepstack_visual_indexes=[])
        return Qwen3VLConfig(text_config=text_config, vision_config=vision_config, **special)
    from transformers import Qwen2_5_VLConfig

    # mRoPE splits head_dim/2 rotary frequencies over (t, h, w); the sections must sum to head_dim/2.
    section = [half - 2 * (half // 4), half // 4, half // 4]
    text_config["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section}
    vision_config.update(window_size=112, fullatt_block_indexes=[depth - 1] if depth else [])
    return Qwen2_5_VLConfig(text_config=text_config, vision_config=vision_config, **special)


def _use_stock_processor_class(directory: Path, family: str) -> None:
    """Record the family's stock processor class so that, where torchvision exists, AutoProcessor loads it."""
    from spatialthinker.train.model import QWEN_VL_CLASSES

    for name in ("processor_config.json", "tokenizer_config.json"):
        path = directory / name
        if path.is_file():
            data = json.loads(path.read_text())
            if "processor_class" in data:
                data["processor_class"] = QWEN_VL_CLASSES[family][1]
                path.write_text(json.dumps(data, indent=2))


def build_tiny_vlm(output_dir: str | os.PathLike[str], seed: int = 0, size: str = "small",
                   corpus: list[str] | tuple[str, ...] = (), family: str = DEFAULT_FAMILY) -> str:
    """Build (or reuse) a tiny random Qwen2.5-VL (or Qwen3-VL) plus processor in ``output_dir``; return its path.

    The directory loads offline with the family's ``from_pretrained(path)`` and with
    ``spatialthinker.train.model.load_model_and_processor(path)``. A finished build is marked by
    ``tiny_build.json``; a directory holding it is reused as is, so session fixtures and repeated CLI runs are cheap.

    Args:
        output_dir: where to save model, tokenizer and image processor.
        seed: torch seed of the random weights.
        size: ``"micro"`` (~0.3 M params), ``"small"`` (~3.4 M) or ``"medium"`` (~14 M).
        corpus: extra texts for the tokenizer (the quickstart passes its training questions and answers).
        family: ``"qwen2_5_vl"`` (default) or ``"qwen3_vl"`` (see ``build_tiny_config``).

    Returns:
        ``output_dir`` as a string.

    Example:
        >>> path = build_tiny_vlm("/tmp/tiny-vlm")  # doctest: +SKIP
    """
    import torch
    import transformers

    from spatialthinker.train.model import QWEN_VL_CLASSES, build_processor

    out = Path(output_dir)
    marker = out / "tiny_build.json"
    if marker.is_file():
        recorded = {"family": "qwen2_5_vl", **json.loads(marker.read_text())}  # builds before families: Qwen2.5-VL
        wanted = {"seed": seed, "size": size, "shape": list(SIZES.get(size, ())), "family": family}
        if all(recorded.get(key) == value for key, value in wanted.items()):
            return str(out)
        log.warning("Rebuilding %s: it holds a tiny model of %s, asked for %s.", out, recorded, wanted)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(SIZES.get(size, SIZES["small"])[5], corpus)
    config = build_tiny_config(tokenizer, size, family)
    torch.manual_seed(seed)
    model = getattr(transformers, QWEN_VL_CLASSES[family][0])(config)
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    processor = build_processor(tokenizer, min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS, model_type=family)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    tokenizer.save_pretrained(out)
    processor.image_processor.save_pretrained(out)  # preprocessor_config.json, for loaders that look for it
    _use_stock_processor_class(out, family)
    n_params = sum(p.numel() for p in model.parameters())
    marker.write_text(json.dumps({"seed": seed, "size": size, "shape": list(SIZES[size]), "family": family,
                                  "parameters": n_params}))
    log.info("Built tiny %s (%s, %.2f M parameters) in %s", family, size, n_params / 1e6, out)
    return str(out)


def resolve_model_path(model: str, cache_dir: str | os.PathLike[str] | None = None, seed: int = 0) -> str:
    """``"tiny"`` builds the offline tiny model, ``tiny-SIZE`` (micro, small, medium) another size, and a
    ``-qwen3vl`` suffix (``tiny-qwen3vl``, ``tiny-micro-qwen3vl``) the Qwen3-VL family; anything else is returned
    as is. Unknown parts are an error naming what is known."""
    if not model.startswith("tiny"):
        return model
    size, family = "small", DEFAULT_FAMILY
    for part in filter(None, model[len("tiny"):].split("-")):
        if part in SIZES:
            size = part
        elif part in FAMILY_ALIASES:
            family = FAMILY_ALIASES[part]
        else:
            raise ValueError(f"--model {model}: {part!r} is neither a tiny size ({', '.join(SIZES)}) nor a family "
                             f"({', '.join(FAMILY_ALIASES)}).")
    root = cache_dir or os.environ.get("SPATIALTHINKER_CACHE", os.path.join(os.path.expanduser("~"), ".cache",
                                                                             "spatialthinker"))
    name = f"tiny-vlm-{size}-seed{seed}" + ("" if family == DEFAULT_FAMILY else f"-{family}")
    return build_tiny_vlm(os.path.join(str(root), name), seed=seed, size=size, family=family)


#: Colours of the tiny dataset's boxes.
TINY_COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 180, 60)}


def write_tiny_stvqa(directory: str | os.PathLike[str], n: int = 8, split: str = "train") -> str:
    """Write ``directory/{split}.parquet``: ``n`` STVQA rows about two PIL-drawn coloured boxes (left/right).

    The boxes in the ground truth are the drawn rectangles, so grounding is real; image sizes vary so the stated
    size matters. For smoke runs, tests and benchmarks, not for results.

    Returns:
        ``directory`` as a string.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [item.to_row(image={"bytes": png, "path": None}) for item, png in _tiny_items(n)]
    os.makedirs(directory, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(str(directory), f"{split}.parquet"))
    return str(directory)


def _tiny_items(n: int) -> list[tuple]:
    import io

    from PIL import Image, ImageDraw

    from spatialthinker.data.records import QAItem
    from spatialthinker.scene import Relation, SceneGraph, SceneObject

    names = list(TINY_COLOURS)
    items = []
    for i in range(n):
        width, height = 160 + 16 * (i % 3), 120 + 8 * (i % 2)
        a, b = names[i % 3], names[(i + 1) % 3]
        left, right = (8 + 2 * i, 20, 48 + 2 * i, 70), (width - 50, 40, width - 10, 100)
        a_left = i % 2 == 0
        box_a, box_b = (left, right) if a_left else (right, left)
        scene = SceneGraph((SceneObject(f"{a}_box.1", box_a), SceneObject(f"{b}_box.1", box_b)),
                           (Relation(f"{a}_box.1", "left of" if a_left else "right of", f"{b}_box.1"),))
        options = ["left", "right"] if i % 4 < 2 else ["right", "left"]
        answer = "left" if a_left else "right"
        item = QAItem(image_id=f"tiny-{i}", image_size=(width, height),
                      question=f"Is the {a} box to the left or to the right of the {b} box?", options=options,
                      answer_index=options.index(answer), category="relation", level="easy", rating=7, scene=scene)
        image = Image.new("RGB", (width, height), (245, 245, 245))
        draw = ImageDraw.Draw(image)
        draw.rectangle(box_a, fill=TINY_COLOURS[a])
        draw.rectangle(box_b, fill=TINY_COLOURS[b])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        items.append((item, buffer.getvalue()))
    return items
