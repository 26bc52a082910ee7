"""SpatialThinker: teach vision-language models 3D spatial reasoning with dense spatial rewards.

Light modules (scene, geometry, prompts, rewards, data generators) import only numpy/scipy/pillow-level
dependencies; torch, transformers, TRL and the renderer are imported inside the functions that use them.
"""

__version__ = "0.1.0"
