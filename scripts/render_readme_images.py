#!/usr/bin/env python3
"""Render the README's pictures from the real output of the reference case.

    python scripts/render_readme_images.py

Needs LibreOffice (soffice) and poppler (pdftoppm) on the machine, e.g.
`apt-get install libreoffice-calc-nogui poppler-utils`; the planner itself does
not. Writes docs/images/findings.png, charts.png and sankey.png.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.api import plan  # noqa: E402
from planner.input.validate import load  # noqa: E402
from planner.output.sankey import write_picture  # noqa: E402
from planner.output.sheets import recommendation_tables  # noqa: E402
from planner.output.write import write_workbook  # noqa: E402

OUT = ROOT / "docs" / "images"


def trim(img: Image.Image, pad: int = 16) -> Image.Image:
    """Cut the white margins a PDF page leaves around a sheet."""
    bg = Image.new(img.mode, img.size, (255, 255, 255))
    box = ImageChops.difference(img, bg).getbbox()
    if not box:
        return img
    left, top, right, bottom = box
    return img.crop((max(left - pad, 0), max(top - pad, 0), min(right + pad, img.width), min(bottom + pad, img.height)))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    p = plan(load(ROOT / "inputs" / "rare_earth_magnets.xlsx"))
    tables = {t.name: t for t in recommendation_tables(p)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, sheets in (("findings", ["Findings"]), ("charts", ["Charts"])):
            book = tmp / f"{name}.xlsx"
            write_workbook(book, [tables[s] for s in sheets], one_page=True)
            subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp), str(book)],
                           check=True, capture_output=True)
            subprocess.run(["pdftoppm", "-r", "150" if name == "charts" else "110", "-png", "-f", "1", "-l", "1",
                            str(tmp / f"{name}.pdf"),
                            str(tmp / name)], check=True)
            pages = sorted(tmp.glob(f"{name}-*.png"))
            imgs = [trim(Image.open(pg).convert("RGB")) for pg in pages[:1]]
            width = max(i.width for i in imgs)
            canvas = Image.new("RGB", (width, sum(i.height for i in imgs)), "white")
            y = 0
            for i in imgs:
                canvas.paste(i, (0, y))
                y += i.height
            canvas.save(OUT / f"{name}.png", optimize=True)
        write_picture(p, tmp / "chain.html", tmp / "chain.png", title="Rare-earth magnet supply chain: reference case")
        img = Image.open(tmp / "chain.png").convert("RGB")
        img.resize((1400, round(img.height * 1400 / img.width)), Image.LANCZOS).save(OUT / "sankey.png",
                                                                                    optimize=True)
    for f in sorted(OUT.glob("*.png")):
        print(f, f.stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main()
