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
    with pytest.raises(ValueError, match="no image|expected an image") as raised:
        open_image(value)
    assert "NoneType" not in str(raised.value)


def test_missing_file_and_garbage_bytes_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png does not exist"):
        open_image(str(tmp_path / "missing.png"))
    with pytest.raises(OSError, match=r"not an image PIL can read \(12 bytes\)"):
        open_image(b"not an image")
