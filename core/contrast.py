"""Colour contrast by WCAG 2.x: relative luminance, contrast ratio, and readable variants of a brand colour.

An agency picks any #RRGGBB colours. Text drawn on a brand colour takes
whichever of dark or light reads better, and text drawn IN a brand colour on
white (links, figures) uses the colour itself when it reaches AA (4.5:1), or
the lightest darker shade of it that does.
"""

AA_NORMAL_TEXT = 4.5
WHITE = "#FFFFFF"
DARK_TEXT = "#111827"
LIGHT_TEXT = WHITE


def _channels(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    red, green, blue = (_linear(c) for c in _channels(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two #RRGGBB colours, from 1 (same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_text_on(background: str) -> str:
    """Dark or light text, whichever has the higher contrast on `background` (at least 4.5:1 for any colour)."""
    dark, light = contrast_ratio(DARK_TEXT, background), contrast_ratio(LIGHT_TEXT, background)
    if max(dark, light) < AA_NORMAL_TEXT:  # mid-tones: pure black always reaches 4.58:1 there
        return "#000000"
    return DARK_TEXT if dark >= light else LIGHT_TEXT


# The pages' background (static/css/portal.css --bg), a shade darker than the white of cards: text that
# reads on it reads on white too.
PAGE_BACKGROUND = "#F9FAFB"


def text_on_white(color: str, background: str = PAGE_BACKGROUND) -> str:
    """`color` when it reads at AA on the pages' near-white background (and so on white), else the
    lightest darker shade of it that does."""
    red, green, blue = _channels(color)
    for percent in range(100, -1, -1):  # 100 %: the colour itself; 0 %: black
        shade = "#{:02X}{:02X}{:02X}".format(*(channel * percent // 100 for channel in (red, green, blue)))
        if contrast_ratio(shade, background) >= AA_NORMAL_TEXT:
            return shade
    return "#000000"
