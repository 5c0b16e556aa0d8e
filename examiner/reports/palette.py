"""The reports' colours: Okabe–Ito, readable with every common colour-vision deficiency.

One source for the plots and the stylesheet, so a label has the same colour in
a chart and in a table. Colour is never the only signal: statuses also carry a
symbol (✔ ◐ ✘) and a word, and the heatmap prints its values.
"""

from __future__ import annotations

__all__ = ["BLUE", "COVERAGE_CMAP", "HIGHLIGHT", "LABEL_COLOURS", "NEUTRAL", "TINTS"]

# Okabe & Ito (2008), "Color Universal Design".
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
REDDISH_PURPLE = "#CC79A7"

LABEL_COLOURS = {"correct": BLUE, "partial": ORANGE, "incorrect": VERMILLION}
# Light backgrounds behind dark text (contrast above 7:1 with #1b1b1b).
TINTS = {"covered": "#e3f0f8", "partial": "#fcf0d4", "missing": "#fae4d8"}
NEUTRAL = SKY
HIGHLIGHT = REDDISH_PURPLE  # outlines the most-missed key points on the heatmap
# Perceptually uniform and designed for colour-vision deficiencies.
COVERAGE_CMAP = "cividis"
