"""recipes/default_voice/train_letter_to_sound.py on a small lexicon: data selection, a resumed run equal to a
straight one, and what it writes loads into the exporter."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from recipes.default_voice import train_letter_to_sound as tl  # noqa: E402
from voxlite.text import lexicon  # noqa: E402

LEX = {"cat": "kˈæt", "Cat": "kˈAt", "dog": "dˈɔɡ", "moon": "mˈun", "beam": "bˈim", "apple": "ˈæpᵊl",
       "walk": "wˈɔk", "play": "plˈA", "quick": "kwˈɪk", "o'clock": "əklˈɑk", "x-ray": "ˈɛksɹˌA", "U.S.": "jˌuˈɛs",
       "aa": "ˈɑˈɑˈɑˈɑˈɑˈɑˈɑˈɑˈɑˈɑ"}
TINY = ["--dim", "16", "--ffn-dim", "32", "--layers", "1", "--heads", "2", "--batch", "2", "--warmup", "2",
        "--total-steps", "6", "--log-every", "1", "--valid-every", "3", "--threads", "1"]


def test_word_pairs_keep_readable_words_lower_case_first():
    pairs = dict(tl.word_pairs(LEX, upsample=2))
    assert pairs["cat"] == "kˈæt"  # the lower-case entry wins over "Cat"
    assert "x-ray" not in pairs and "u.s." not in pairs  # letters outside the alphabet
    assert "aa" not in pairs  # 20 symbols cannot fit 2 x (2 + 2) CTC frames
    assert pairs["o'clock"] == "əklˈɑk"
    assert tl.ctc_fits(3, "kˈæt", 2) and not tl.ctc_fits(1, "aaaa", 2)  # equal neighbours need a blank between


def test_resumed_run_equals_straight_run(tmp_path):
    lex = tmp_path / "lexicon.json"
    lexicon.save(lex, LEX, {"package": "test"})
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert tl.main(["--lexicon", str(lex), "--out", str(straight), *TINY]) == 0
    assert tl.main(["--lexicon", str(lex), "--out", str(resumed), "--max-steps", "3", *TINY]) == 0
    assert torch.load(resumed / "model.pt", weights_only=False)["step"] == 3
    assert tl.main(["--lexicon", str(lex), "--out", str(resumed), *TINY]) == 0
    a = torch.load(straight / "model.pt", weights_only=False)
    b = torch.load(resumed / "model.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    rows = [json.loads(line) for line in (straight / "valid.jsonl").read_text().splitlines()]
    assert rows[-1]["final"] and 0.0 <= rows[-1]["symbol_error_rate"] and 0.0 <= rows[-1]["word_accuracy"] <= 1.0
    losses = [json.loads(line)["loss"] for line in (straight / "train.jsonl").read_text().splitlines()]
    assert len(losses) == 6 and all(loss == loss and loss < 1e3 for loss in losses)  # finite, logged every step


def test_pack_halves_the_model_and_export_reads_it(tmp_path):
    pytest.importorskip("onnx")
    from voxlite.models.letter_to_sound import load_checkpoint as load
    from recipes.default_voice import checkpoints

    lex = tmp_path / "lexicon.json"
    lexicon.save(lex, LEX, {"package": "test"})
    out = tmp_path / "run"
    assert tl.main(["--lexicon", str(lex), "--out", str(out), "--max-steps", "2", *TINY]) == 0
    dest = tmp_path / "packed"
    with pytest.raises(SystemExit, match="output directory"):
        checkpoints.main(["pack", "--letter-to-sound", str(tmp_path), "--dest", str(dest)])
    assert not dest.exists()
    assert checkpoints.main(["pack", "--letter-to-sound", str(out), "--dest", str(dest)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == ["letter_to_sound.pt"]
    packed = torch.load(dest / "letter_to_sound.pt", weights_only=False)
    assert packed["step"] == 2 and all(v.dtype == torch.float16 for v in packed["model"].values()
                                       if v.is_floating_point())
    model = load(dest / "letter_to_sound.pt")  # float32 again for export
    assert all(p.dtype == torch.float32 for p in model.parameters())
