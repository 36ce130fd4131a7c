"""The manifest engine: judges Ground Truth manifest lines and changes as AWS does.

`check_line` judges one line, `ChangeReader` a whole change (streamed), `dataset_terminal` and
`distribute_terminal` the outcomes that depend on the dataset. Codes, messages and the order of
checks live in `manifestdb.manifest.codes`.
"""

from manifestdb.manifest.change import (
    INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE,
    ChangeReader,
    dataset_terminal,
    distribute_terminal,
)
from manifestdb.manifest.line import check_line
from manifestdb.manifest.types import (
    AWS_LIMITS,
    LIMIT_PROFILES,
    RELAXED_LIMITS,
    Dropped,
    Entry,
    Level,
    Limits,
    Problem,
    Terminal,
)

__all__ = [
    "AWS_LIMITS",
    "INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE",
    "LIMIT_PROFILES",
    "RELAXED_LIMITS",
    "ChangeReader",
    "Dropped",
    "Entry",
    "Level",
    "Limits",
    "Problem",
    "Terminal",
    "check_line",
    "dataset_terminal",
    "distribute_terminal",
]
