"""The root command: every registry is listed by `ls`, and unknown kinds fail with the list of kinds."""

from spatialthinker.cli import main, registry_names


def test_ls_lists_every_registry(capsys):
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    for kind in ("prompt-styles", "rewards", "categories", "benchmarks", "backends"):
        assert f"{kind}:" in out
    assert "cv-bench" in out and "short_eval" in out and "relation" in out


def test_ls_one_kind_and_unknown_kind(capsys):
    assert main(["ls", "categories"]) == 0
    assert capsys.readouterr().out.strip().split(": ")[1].split(", ") == registry_names("categories")
    assert main(["ls", "nope"]) == 2
    assert "available: prompt-styles" in capsys.readouterr().err


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip()
    assert main(["--help"]) == 0
