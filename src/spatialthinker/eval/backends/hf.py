"""``transformers`` backend: batched greedy generation with a local or hub VLM and its processor."""

from __future__ import annotations

import logging
from typing import Any

from spatialthinker.eval.backends.base import BackendSettings, GenerationRequest

logger = logging.getLogger(__name__)


def load_model(model: str, dtype: str = "auto") -> tuple[Any, Any]:
    """Model + image-capable processor, through the training code's loader when it is installed.

    The training loader assembles an image-only Qwen-VL processor when torchvision is missing (transformers'
    AutoProcessor then returns a bare tokenizer, and the model would answer blind), and resolves ``tiny`` names.
    """
    try:
        from spatialthinker.train.model import load_model_and_processor
        from spatialthinker.train.tiny import resolve_model_path
    except ImportError:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        processor = AutoProcessor.from_pretrained(model)
        kwargs = {} if dtype == "auto" else {"dtype": dtype}
        return AutoModelForImageTextToText.from_pretrained(model, **kwargs), processor
    return load_model_and_processor(resolve_model_path(model), dtype=dtype)


class TransformersBackend:
    """Greedy ``model.generate`` over batches of ``batch_size`` chat prompts, left-padded."""

    name = "transformers"

    def __init__(self, settings: BackendSettings) -> None:
        import torch

        self.settings = settings
        self.model, self.processor = load_model(settings.model, settings.dtype)
        device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(device).eval()
        self.device = device
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"  # generation continues from the right end of every row
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _chat_text(self, request: GenerationRequest) -> str:
        content = [{"type": "image"} for _ in request.images] + [{"type": "text", "text": request.prompt}]
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, requests: list[GenerationRequest]) -> list[str]:
        outputs: list[str] = []
        size = max(1, self.settings.batch_size)
        for start in range(0, len(requests), size):
            outputs.extend(self._generate_batch(requests[start:start + size]))
        return outputs

    def _generate_batch(self, batch: list[GenerationRequest]) -> list[str]:
        import torch

        texts = [self._chat_text(r) for r in batch]
        images = [image for r in batch for image in r.images]
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if images:
            kwargs["images"] = images
        inputs = self.processor(**kwargs).to(self.device)
        if images and "pixel_values" not in inputs:  # a tokenizer-only "processor" would let the model answer blind
            raise RuntimeError(f"the processor of {self.settings.model} returned no pixel_values; it cannot read images.")
        with torch.inference_mode():
            generated = self.model.generate(
                **inputs, max_new_tokens=max(r.max_new_tokens for r in batch), do_sample=False,
                temperature=None, top_p=None, top_k=None, pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = generated[:, inputs["input_ids"].shape[1]:]  # (B, T_new): drop the prompt
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.settings.model, "device": self.device,
                "dtype": str(getattr(self.model, "dtype", self.settings.dtype)), "decoding": "greedy",
                "batch_size": self.settings.batch_size}
