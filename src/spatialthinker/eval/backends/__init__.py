"""Generation backends, registered by name in ``spatialthinker.eval.registry.BACKENDS``.

Each backend turns a list of ``GenerationRequest`` into one output string per request, in order. Heavy
dependencies (torch, transformers, vLLM) are imported inside the backend that needs them.
"""

from spatialthinker.eval.backends.base import (Backend, BackendSettings, GenerationFailure, GenerationRequest,
                                               create_backend)

__all__ = ["Backend", "BackendSettings", "GenerationFailure", "GenerationRequest", "create_backend"]
