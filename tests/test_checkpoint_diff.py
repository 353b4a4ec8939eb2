"""examples/dailydialog/analysis/checkpoint_diff.py: bit-identity of two checkpoints' weights."""
import os

import pytest
import torch

from .helpers import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "dailydialog", "analysis", "checkpoint_diff.py")


def test_differences_by_hand():
    weight_differences = load_script(SCRIPT).weight_differences
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5]), "n": torch.tensor(3)}
    assert weight_differences(a, {k: v.clone() for k, v in a.items()}) == ([], 0.0)
    b = {"w": torch.tensor([1.0, 2.25]), "b": torch.tensor([0.0]), "n": torch.tensor(3)}
    assert weight_differences(a, b) == (["w", "b"], 0.5)
    # one ulp is a difference
    c = dict(a, w=torch.nextafter(a["w"], torch.tensor(9.0)))
    assert weight_differences(a, c)[0] == ["w"]


def test_mismatched_checkpoints_are_refused():
    weight_differences = load_script(SCRIPT).weight_differences
    with pytest.raises(ValueError, match="different tensors"):
        weight_differences({"w": torch.zeros(2)}, {"v": torch.zeros(2)})
    with pytest.raises(ValueError, match=r"w has shape \(2,\) against \(3,\)"):
        weight_differences({"w": torch.zeros(2)}, {"w": torch.zeros(3)})


def test_command_line(tmp_path):
    main = load_script(SCRIPT).main
    for name, value in (("a", 1.0), ("b", 1.0), ("c", 1.5)):
        torch.save({"model": {"w": torch.tensor([value])}}, tmp_path / f"{name}.pt")
    assert main([str(tmp_path / "a.pt"), str(tmp_path / "b.pt")]) == 0
    assert main([str(tmp_path / "a.pt"), str(tmp_path / "c.pt")]) == 1
    with pytest.raises(SystemExit, match="missing.pt: not a readable fairseq checkpoint"):
        main([str(tmp_path / "missing.pt"), str(tmp_path / "a.pt")])
