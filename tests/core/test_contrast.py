"""Brand colours stay readable: WCAG contrast for text on and in any colour an agency picks."""

from hypothesis import given, strategies as st

from core.contrast import AA_NORMAL_TEXT, PAGE_BACKGROUND, WHITE, contrast_ratio, readable_text_on, text_on_white

colors = st.integers(min_value=0, max_value=0xFFFFFF).map(lambda n: f"#{n:06X}")


def test_contrast_ratio_matches_wcag_reference_values():
    assert round(contrast_ratio("#000000", "#FFFFFF"), 2) == 21.0
    assert round(contrast_ratio("#777777", "#FFFFFF"), 2) == 4.48  # the classic "just fails AA" grey
    assert contrast_ratio("#10B981", WHITE) < 3  # the console's old green button with white text
    assert contrast_ratio("#047857", WHITE) >= AA_NORMAL_TEXT  # the new one


@given(colors)
def test_text_on_any_brand_colour_reaches_aa(color):
    assert contrast_ratio(readable_text_on(color), color) >= AA_NORMAL_TEXT


@given(colors)
def test_brand_colour_as_text_on_white_reaches_aa_and_keeps_a_dark_colour_as_it_is(color):
    shade = text_on_white(color)
    assert contrast_ratio(shade, WHITE) >= AA_NORMAL_TEXT
    assert contrast_ratio(shade, PAGE_BACKGROUND) >= AA_NORMAL_TEXT  # links straight on the page, off cards
    if contrast_ratio(color, PAGE_BACKGROUND) >= AA_NORMAL_TEXT:
        assert shade == color


def test_a_light_brand_colour_is_darkened_not_replaced():
    # A gold at 1.4:1 on white becomes a darker gold: red > green > blue as in the original.
    shade = text_on_white("#FFD700")
    red, green, blue = (int(shade[i : i + 2], 16) for i in (1, 3, 5))
    assert red > green > blue
    assert contrast_ratio(shade, WHITE) >= AA_NORMAL_TEXT
