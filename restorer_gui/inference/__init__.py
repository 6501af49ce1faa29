"""Inference (torch, never Qt): devices, model registry and safe loading, tiling, the engine, operations.

Importing this package sets PYTORCH_ENABLE_MPS_FALLBACK before anything imports torch, so that
operators missing on Apple GPUs fall back to the CPU instead of failing.
"""

import os

os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
