"""Inference engines behind one protocol: a feed of named numpy arrays in, named numpy arrays out.

Backends never see strings (tokenization is the kind's job) and know nothing of pooling. Output
dicts keep the engine's order, so "the first output" is ``next(iter(outputs.values()))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np


class Backend(Protocol):
    # The inputs the model declares; callers may feed more, backends pass only these.
    input_names: tuple[str, ...]

    def run(self, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...
