"""Makes the small inputs of the browser tests (tests/browser/) from held-out
ISBI 2012 slice 24 (data/isbi2012/train/images/24.png). Run from the repository root:

    .venv-peers/bin/python tests/data/browser/make_fixtures.py

- slice-24-crop128.png: the 128x128 block at x = y = 192, 8-bit gray.
- slice-24-two-pages-16bit.tif: two 64x64 blocks (at 64,64 and 320,320) as a
  two-page, uncompressed 16-bit TIFF, values v * 200 + 1000 (a narrow 16-bit
  range, as dim microscopy has).
"""

import numpy as np
import tifffile
from PIL import Image

here = "tests/data/browser"
slice24 = np.asarray(Image.open("data/isbi2012/train/images/24.png").convert("L"))

Image.fromarray(slice24[192:320, 192:320]).save(f"{here}/slice-24-crop128.png", optimize=True)

pages = [slice24[y:y + 64, x:x + 64].astype(np.uint16) * 200 + 1000 for (x, y) in [(64, 64), (320, 320)]]
tifffile.imwrite(f"{here}/slice-24-two-pages-16bit.tif", np.stack(pages), photometric="minisblack")
