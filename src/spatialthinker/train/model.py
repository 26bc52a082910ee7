"""Load a vision-language model and a processor that really processes images, with or without torchvision.

Qwen2-VL/2.5-VL processors have a mandatory video-processor slot, and every video processor needs torchvision.
Without torchvision ``AutoProcessor.from_pretrained`` silently returns only the tokenizer, and a chat template then
emits one ``<|image_pad|>`` and no ``pixel_values`` (platform.md). We detect that and assemble an image-only
processor from the PIL image processor instead, so training never runs blind.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: Model types whose processor we can assemble from a tokenizer and the PIL Qwen2-VL image processor: the
#: transformers model class and stock processor class of each (names, so this module imports no transformers).
QWEN_VL_CLASSES: dict[str, tuple[str, str]] = {
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration", "Qwen2_5_VLProcessor"),
    "qwen2_vl": ("Qwen2VLForConditionalGeneration", "Qwen2VLProcessor"),
    "qwen3_vl": ("Qwen3VLForConditionalGeneration", "Qwen3VLProcessor"),
}
QWEN_VL_TYPES = tuple(QWEN_VL_CLASSES)


def build_processor(tokenizer: Any, min_pixels: int | None = None, max_pixels: int | None = None,
                    image_processor: Any | None = None, model_type: str = "qwen2_5_vl") -> Any:
    """Assemble a Qwen-VL processor with an image processor and no video processor (no torchvision needed).

    Args:
        tokenizer: the model's tokenizer; its chat template becomes the processor's.
        min_pixels, max_pixels: image-area limits; images are resized into them (aspect kept, sides multiples
            of 28). The prompt still states the original size, and the reward normalises boxes by that size.
        image_processor: an existing image processor to reuse (its limits are overridden when given).
        model_type: ``"qwen2_5_vl"``, ``"qwen2_vl"`` or ``"qwen3_vl"``.
    """
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if image_processor is None:
        image_processor = Qwen2VLImageProcessorPil()
    set_pixel_limits(image_processor, min_pixels, max_pixels)
    cls = _image_only_class(model_type)
    processor = cls(image_processor, tokenizer, None, chat_template=getattr(tokenizer, "chat_template", None))
    processor.video_processor = None
    return processor


def _image_only_class(model_type: str) -> type:
    """A subclass of the Qwen-VL processor whose sub-processors are only image processor and tokenizer.

    The stock class insists on a video processor (which needs torchvision). Created on first use, so importing
    this module stays free of transformers, and stored as a module global so processors pickle.
    """
    base_name = QWEN_VL_CLASSES.get(model_type, QWEN_VL_CLASSES["qwen2_5_vl"])[1]
    name = f"ImageOnly{base_name}"
    if name not in globals():
        import transformers

        base = getattr(transformers, base_name)
        cls = type(name, (base,), {"get_attributes": classmethod(lambda c: ["image_processor", "tokenizer"]),
                                   "__module__": __name__, "__doc__": "Image-only processor (no torchvision)."})
        globals()[name] = cls
    return globals()[name]


def set_pixel_limits(image_processor: Any, min_pixels: int | None, max_pixels: int | None) -> None:
    """Set the processor's image-area bounds. transformers 5 reads them from ``size`` (shortest/longest edge hold
    pixel *areas* for Qwen-VL); the old ``min_pixels``/``max_pixels`` attributes trigger a deprecation path."""
    size = dict(getattr(image_processor, "size", None) or {})
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    for name in ("min_pixels", "max_pixels"):
        if getattr(image_processor, name, None) is not None:
            setattr(image_processor, name, None)
    if size:
        image_processor.size = size


def has_image_processor(processor: Any) -> bool:
    return getattr(processor, "image_processor", None) is not None


def load_processor(path_or_id: str, min_pixels: int | None = None, max_pixels: int | None = None,
                   model_type: str | None = None) -> Any:
    """Load the processor of ``path_or_id``; fall back to an explicit image-only processor without torchvision.

    Raises:
        ValueError: when the checkpoint has no image processor and is not a Qwen-VL we can assemble one for.
    """
    from transformers import AutoConfig, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(path_or_id)
    except (OSError, ValueError, ImportError) as error:
        log.info("AutoProcessor failed for %s (%s); assembling one.", path_or_id, error)
        processor = None
    if processor is not None and has_image_processor(processor):
        set_pixel_limits(processor.image_processor, min_pixels, max_pixels)
        return _pad_left(processor)
    if model_type is None:
        model_type = getattr(AutoConfig.from_pretrained(path_or_id), "model_type", "")
    if model_type not in QWEN_VL_TYPES:
        raise ValueError(
            f"{path_or_id} has no image processor (model type {model_type!r}). Training needs a vision-language "
            "model whose processor turns images into pixel_values: use a Qwen2.5-VL/Qwen2-VL checkpoint, or "
            "install torchvision if this model's processor needs it.")
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(path_or_id)
    try:
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(path_or_id)
    except OSError as error:
        raise ValueError(f"{path_or_id} has no preprocessor_config.json, so it has no image processor: {error}") from None
    log.info("Assembled an image-only %s processor for %s (torchvision not installed).", model_type, path_or_id)
    return _pad_left(build_processor(tokenizer, min_pixels, max_pixels, image_processor, model_type))


def _pad_left(processor: Any) -> Any:
    """Pad on the left, whatever the checkpoint says.

    Every consumer generates (GRPO rollouts, evaluation). TRL left-pads GRPO prompts but Qwen-VL builds its
    ``mm_token_type_ids`` with the processor's own padding side; with right padding the two disagree whenever a
    batch mixes prompt lengths and ``get_rope_index`` fails with a shape mismatch. ``save_pretrained`` does not
    keep an in-memory ``padding_side``, so a saved checkpoint cannot be trusted to carry it.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"
    return processor


def load_model_and_processor(path_or_id: str, *, dtype: str = "auto", min_pixels: int | None = None,
                             max_pixels: int | None = None, attn_implementation: str | None = None,
                             lora: Any | None = None, quantization: str | None = None) -> tuple[Any, Any]:
    """Load a VLM (Qwen2.5-VL, Qwen2-VL, Qwen3-VL or any ``AutoModelForImageTextToText``) and a processor for it.

    Args:
        path_or_id: hub id or local directory (``build_tiny_vlm``'s output works).
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        min_pixels, max_pixels: image-area limits passed to the image processor.
        attn_implementation: e.g. ``"sdpa"`` or ``"flash_attention_2"``; None lets transformers choose.
        lora: ignored here (LoRA is applied by the trainer through ``peft_config``); kept for signature stability.
        quantization: ``"4bit"`` or ``"8bit"`` loads through bitsandbytes (QLoRA).

    Returns:
        ``(model, processor)``; the model is in train mode with ``use_cache`` off only if the caller sets it.

    Example:
        >>> model, processor = load_model_and_processor(build_tiny_vlm("/tmp/tiny"))  # doctest: +SKIP
    """
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(path_or_id)
    model_type = getattr(config, "model_type", "")
    processor = load_processor(path_or_id, min_pixels, max_pixels, model_type)
    kwargs: dict[str, Any] = {}
    if dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype)
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if quantization:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit",
            bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4")
    if model_type in QWEN_VL_CLASSES:
        import transformers

        cls = getattr(transformers, QWEN_VL_CLASSES[model_type][0])
    else:
        cls = AutoModelForImageTextToText
    model = cls.from_pretrained(path_or_id, **kwargs)
    tokenizer = getattr(processor, "tokenizer", processor)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, processor
