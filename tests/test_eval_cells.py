"""Image and list cells in every stored form (benchmarks.md §4), decoded without guessing."""

import base64
import io

import pytest
from PIL import Image

from spatialthinker.eval.cells import ImageCellError, as_list, category_text, decode_base64, image_values


def png(size=(5, 4)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_stored_form_gives_the_image(tmp_path):
    data = png()
    b64 = base64.b64encode(data).decode()
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(data)
    forms = [data, {"bytes": data, "path": None}, b64, f"data:image/png;base64,{b64}", [b64],
             str([b64]), {"bytes": None, "path": "img/a.png"}, "img/a.png", str(tmp_path / "img" / "a.png")]
    for form in forms:
        [image] = image_values(form, [tmp_path])
        opened = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else Image.open(image)
        assert opened.size == (5, 4), form if not isinstance(form, bytes) else "bytes"
    assert image_values(str([b64, b64])) == [data, data]  # LEGO: a string holding a list of base64 images
    assert image_values(None) == [] and image_values("") == [] and image_values([None]) == []


def test_missing_paths_and_non_images_are_errors_that_say_where(tmp_path):
    with pytest.raises(ImageCellError, match="direct_attributes/sa_1.jpg.*" + str(tmp_path)):
        image_values("direct_attributes/sa_1.jpg", [tmp_path])
    with pytest.raises(ImageCellError, match="hub"):
        image_values("img/a.png")  # no dataset folder: the rows came from the hub
    with pytest.raises(ImageCellError, match="int"):
        image_values(3)


def test_long_base64_looking_text_that_is_no_image_is_not_decoded():
    assert decode_base64("A" * 200) is None  # decodes to zeros, not an image
    assert decode_base64(base64.b64encode(png()).decode()) == png()


def test_lists_and_categories():
    assert as_list("['a', 'b']") == ["a", "b"] and as_list('["a"]') == ["a"] and as_list("plain") == ["plain"]
    assert category_text(["self", "rotation"]) == "self/rotation" and category_text("['x', 'y']") == "x/y"
    assert category_text(None) == "" and category_text(3) == "3"
