"""Generated images of simple shapes (circle, square, triangle) on noisy backgrounds, with the
box of each shape: data a model must learn, made the same for a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


@dataclass(frozen=True, slots=True)
class Drawn:
    image: Image.Image
    shapes: list[tuple[str, tuple[float, float, float, float]]]  # (shape, (x0, y0, x1, y1))


def draw(rng: random.Random, shapes: list[str], size: int = 96) -> Drawn:
    """`shapes` drawn side by side on a noisy background of random hue, each in its own part
    of the width, at a random place and size within it."""
    background = tuple(rng.randrange(40, 215) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    pixels = image.load()
    assert pixels is not None
    for _ in range(size * size // 8):  # noise
        x, y = rng.randrange(size), rng.randrange(size)
        pixels[x, y] = tuple(rng.randrange(256) for _ in range(3))
    pen = ImageDraw.Draw(image)
    boxes = []
    slot = size / len(shapes)
    for n, shape in enumerate(shapes):
        side = rng.uniform(0.45, 0.8) * min(slot, size)
        x0 = n * slot + rng.uniform(0, slot - side)
        y0 = rng.uniform(0, size - side)
        box = (x0, y0, x0 + side, y0 + side)
        color = tuple((c + rng.randrange(90, 166)) % 256 for c in background)
        if shape == "circle":
            pen.ellipse(box, fill=color)
        elif shape == "square":
            pen.rectangle(box, fill=color)
        else:
            pen.polygon(
                [(x0 + side / 2, y0), (x0, y0 + side), (x0 + side, y0 + side)],
                fill=color,
            )
        boxes.append((shape, box))
    return Drawn(image, boxes)


def one_shape_each(seed: int, count: int) -> list[Drawn]:
    """`count` images of each shape, one shape an image, shuffled."""
    rng = random.Random(seed)
    drawn = [draw(rng, [shape]) for shape in SHAPES for _ in range(count)]
    rng.shuffle(drawn)
    return drawn
