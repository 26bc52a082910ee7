"""The one image reader shared by training, evaluation and the viewer: every stored form, and clear failures."""

import io

import pytest
from PIL import Image

from spatialthinker.images import open_image


def _png(size=(5, 3), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_stored_form_opens(tmp_path):
    data = _png()
    path = tmp_path / "image.png"
    path.write_bytes(data)
    forms = [data, {"bytes": data, "path": None}, {"bytes": None, "path": str(path)}, str(path), [data],
             Image.new("RGB", (5, 3))]
    assert [open_image(form).size for form in forms] == [(5, 3)] * len(forms)


def test_mode_is_kept_for_callers_to_convert():
    assert open_image(_png(mode="L")).mode == "L"


@pytest.mark.parametrize("value", [None, {}, {"bytes": None, "path": None}, [], 3, ""])
def test_values_without_an_image_raise_value_error(value):
    with pytest.raises(ValueError, match="cannot read an image"):
        open_image(value)


def test_missing_file_and_garbage_bytes_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_image(str(tmp_path / "missing.png"))
    with pytest.raises(OSError):
        open_image(b"not an image")
