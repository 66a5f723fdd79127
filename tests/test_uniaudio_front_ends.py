"""UniAudio bundles that read what users have: text (voxlite's G2P onto a phone table), recordings (semantic units
for voice conversion), captions (a T5 encoder), singing scores (the singing tables), through the model's task methods
and the command line (say, convert, sing, enhance, extract, generate), at the tiny configuration.

Each front end is checked against the component it carries used on its own (the same G2P and table, the same
semantic-units bundle, the same T5 component): what reaches the LM is what that front end gives, and the audio is the
search on those ids. UniAudio's tables are its data, so the tables here are made by rule in the test.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

import voxlite  # noqa: E402
from voxlite.audio import Audio  # noqa: E402
from voxlite.errors import CapabilityError, InvalidInput  # noqa: E402

VOWELS = "AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split()
CONSONANTS = "B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH".split()
LEXICON = {"hello": "həlˈO", "there": "ðˈɛɹ", "hi": "hˈI", "world": "wˈɜɹld", "cats": "kˈæts"}
SING_PHONES = ("SP", "AP", "l", "a", "n", "i", "m", "u")
RNG = np.random.default_rng(7)


def phone_table() -> list[str]:
    """A phone_dict by rule: SIL, then every phone (vowels with each stress) bare and at each word position."""
    table = ["SIL"]
    for p in [f"{v}{s}" for v in VOWELS for s in "012"] + CONSONANTS:
        table += [p] + [f"{p}_{pos}" for pos in "BIES"]
    return table


def noise(seconds: float, seed: int = 0) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32), 16000)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The front ends' sources: tables, a lexicon, a semantic-units bundle (hop 320: 50 units/s, the codec's rate),
    random T5 parts (768 wide, the LM's continuous_dim)."""
    from tokenizers import SentencePieceUnigramTokenizer

    from export.hubert import export_semantic_units, random_centroids
    from export.t5_features import random_t5_parts
    from voxlite.models.hubert import Hubert, HubertConfig
    from voxlite.text import lexicon as lexicon_files

    root = tmp_path_factory.mktemp("uniaudio-inputs")
    checkout = root / "UniAudio" / "UniAudio" / "tools" / "tokenizer"
    (checkout / "phone").mkdir(parents=True)
    (checkout / "Sing").mkdir()
    (checkout / "phone" / "phone_dict").write_text("".join(f"{s} {i}\n" for i, s in enumerate(phone_table())))
    (checkout / "Sing" / "dict_phone.txt").write_text("".join(f"{s} {100 - i}\n" for i, s in enumerate(SING_PHONES)))
    (checkout / "Sing" / "f0_dict.txt").write_text("".join(f"{n}\n" for n in range(128)))
    lexicon_files.save(root / "lexicon.json", LEXICON, "test")
    torch.manual_seed(0)
    hubert = Hubert(HubertConfig.tiny(conv_kernel=(10, 8, 8), conv_stride=(5, 8, 8))).eval()
    units = export_semantic_units(hubert, random_centroids(hubert, 2, 11, 0), root / "units", layer=2,
                                  log=lambda *_: None)
    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(["a dog barks in the rain", "soft piano music", "a cheerful young woman speaks"] * 5,
                           vocab_size=40, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                           show_progress=False)
    sp.save(str(root / "t5.tokenizer.json"))
    t5 = random_t5_parts(0, root / "t5.tokenizer.json", dim=768)
    with torch.no_grad():  # rows well under 1, as a trained encoder's (unit norm gains make 768-wide rows of ~1)
        t5.model.encoder.norm.weight.mul_(0.1)
    return root, root / "UniAudio", units, t5


@pytest.fixture(scope="module")
def bundle(parts, tmp_path_factory):
    from export.uniaudio import build_random, export_uniaudio, random_codec, table_sizes
    from export.uniaudio_inputs import UniAudioInputs, find_tables

    root, checkout, units, t5 = parts
    tables = find_tables(checkout)
    inputs = UniAudioInputs(**{k: str(v) for k, v in tables.items()}, lexicon=str(root / "lexicon.json"),
                            semantic_units=str(units), t5_parts=t5)
    model, tokens = build_random("tiny", 0, table_sizes(inputs))
    out = tmp_path_factory.mktemp("uniaudio") / "front-ends"
    export_uniaudio(model, random_codec(model.config.audio_bins, "tiny", 0), tokens, out, inputs=inputs,
                    defaults={"prompt_seconds": 0.3}, log=lambda *_: None)
    return out


def test_capabilities_follow_the_front_ends(bundle):
    m = voxlite.load(bundle)
    assert set(m.bundle.capabilities) == {"text-to-speech", "voice-cloning", "text-to-audio", "speech-to-speech",
                                          "singing"}
    assert {m.text_component, m.semantic_component, m.t5_component} == {"text", "semantic", "t5"}


def test_text_is_read_by_the_g2p_onto_the_phone_table(bundle):
    from voxlite.text.english_g2p import EnglishG2P
    from voxlite.text.uniaudio_phones import UniAudioPhones

    m = voxlite.load(bundle)
    want = UniAudioPhones(EnglishG2P(LEXICON), phone_table())
    text = "Hello there."
    np.testing.assert_array_equal(m.phones.indices(text), want.indices(text))
    audio = m.synthesize(text, seed=3, max_length=12)
    same = m._audio("plain_tts", dict(seed=3, max_length=12), phone_seq=want.indices(text))
    # synthesize joins the stream's chunks (the streaming decoder is exact, to float rounding)
    np.testing.assert_allclose(audio.samples, same.samples, atol=1e-5)
    # two sentences: sentence k sampled with seed + k, its audio streamed as the frames come
    first = m._audio("plain_tts", dict(seed=3, max_length=12), phone_seq=want.indices("Hello there."))
    second = m._audio("plain_tts", dict(seed=4, max_length=12), phone_seq=want.indices("Hi world."))
    chunks = list(m.stream("Hello there. Hi world.", seed=3, max_length=12))
    assert len(chunks) > 2
    np.testing.assert_allclose(np.concatenate(chunks), np.concatenate([first.samples, second.samples]), atol=1e-5)


def test_a_voice_prompt_is_cut_to_prompt_seconds(bundle):
    m = voxlite.load(bundle)
    voice = noise(1.0)
    codes = m.encode_audio(voice)
    assert codes.shape == (3, 50)
    audio = m.synthesize("Hi.", voice, seed=1, max_length=3)  # no transcript needed
    same = m._audio("tts", dict(seed=1, max_length=3), phone_seq=m.phones.indices("Hi."), prompt_seq=codes[:, :15])
    np.testing.assert_allclose(audio.samples, same.samples, atol=1e-5)


def test_conversion_reads_the_recording_through_the_semantic_units(bundle, parts):
    from voxlite.pipelines.semantic_units import SemanticUnits

    _, _, units_bundle, _ = parts
    m = voxlite.load(bundle, task="speech-to-speech")
    source = noise(0.4, seed=1)
    units = SemanticUnits(voxlite.bundle.open_bundle(units_bundle)).units(source)
    np.testing.assert_array_equal(m.semantic_units(source), units)
    audio = m.convert(source, noise(0.5, seed=2), seed=2)
    assert audio.samples.size == units.size * 320  # as long as the source
    same = m._audio("VC", dict(seed=2), frames=units.size, semantic_seq=units,
                    prompt_seq=m.encode_audio(noise(0.5, seed=2))[:, :15])
    np.testing.assert_array_equal(audio.samples, same.samples)


def test_captions_are_read_by_the_t5_component(bundle):
    from voxlite.pipelines.t5_features import T5Features

    m = voxlite.load(bundle, task="text-to-audio")
    rows = T5Features(m.bundle, component="t5").features("a dog barks")
    sound = m.generate("a dog barks", seconds=0.2, seed=5)
    assert sound.samples.size == 10 * 320
    np.testing.assert_array_equal(sound.samples, m.generate(rows, seconds=0.2, seed=5).samples)
    styled = m.synthesize("Hi.", instruction="a cheerful young woman speaks", seed=1, max_length=3)
    assert 0 < styled.samples.size <= 3 * 320


def test_a_score_is_sung_as_long_as_it_lasts(bundle):
    from voxlite.text.singing_score import score_to_frames

    m = voxlite.load(bundle, task="singing")
    score = {"notes": [{"pinyin": "la", "note": "A4", "seconds": 0.2}, {"note": "rest", "seconds": 0.1},
                       {"pinyin": "mi", "note": 62, "seconds": 0.16}]}
    phones, midi = score_to_frames(score, SING_PHONES, tuple(range(128)), frame_rate=50.0)
    assert phones.size == 23
    voice = noise(0.5, seed=4)
    audio = m.sing(score, voice, seed=6)
    assert audio.samples.size == 23 * 320
    same = m._audio("sing", dict(seed=6), frames=23, sing_phone_seq=phones, sing_midi_seq=midi,
                    prompt_seq=m.encode_audio(voice)[:, :15])
    np.testing.assert_array_equal(audio.samples, same.samples)
    with pytest.raises(InvalidInput, match="voice"):
        m.sing(score)
    with pytest.raises(InvalidInput, match=r"notes\[0\]"):
        m.sing({"notes": [{"pinyin": "qqq", "note": "C4", "seconds": 0.2}]}, voice)


def test_commands(bundle, tmp_path, capsys):
    from voxlite.cli.main import main

    voice, source = tmp_path / "voice.wav", tmp_path / "source.wav"
    noise(0.5, seed=1).save(voice)
    noise(0.4, seed=2).save(source)
    score = tmp_path / "song.json"
    score.write_text(json.dumps([{"pinyin": "la", "note": "C4", "seconds": 0.2}]))
    b = str(bundle)
    runs = {
        "say": ["say", "Hello there.", "-o", str(tmp_path / "say.wav"), "--bundle", b, "--voice", str(voice), "-q"],
        "instruct": ["say", "Hi.", "--instruction", "a cheerful young woman speaks", "-o",
                     str(tmp_path / "instruct.wav"), "--bundle", b, "-q"],
        "convert": ["convert", str(source), "--voice", str(voice), "-o", str(tmp_path / "convert.wav"), "--bundle", b],
        "sing": ["sing", "--score", str(score), "--voice", str(voice), "-o", str(tmp_path / "sing.wav"), "--bundle", b],
        "enhance": ["enhance", str(source), "-o", str(tmp_path / "enhance.wav"), "--bundle", b],
        "dereverb": ["enhance", str(source), "--reverb", "-o", str(tmp_path / "dereverb.wav"), "--bundle", b],
        "extract": ["extract", str(source), "--speaker", str(voice), "-o", str(tmp_path / "extract.wav"), "--bundle",
                    b],
        "generate": ["generate", "soft piano music", "--music", "--seconds", "0.2", "-o",
                     str(tmp_path / "generate.wav"), "--bundle", b, "-q"],
    }
    for name, argv in runs.items():
        assert main(argv) == 0, name
        out = tmp_path / f"{name}.wav"
        assert voxlite.audio.read_audio(out).samples.size > 0, name
    assert voxlite.audio.read_audio(tmp_path / "convert.wav").samples.size == 19 * 320  # units of 0.4 s
    assert voxlite.audio.read_audio(tmp_path / "sing.wav").samples.size == 10 * 320
    assert voxlite.audio.read_audio(tmp_path / "generate.wav").samples.size == 10 * 320
    capsys.readouterr()
    # options the bundle does not take are refused in one line, nothing is written
    for argv, message in ((["generate", "rain", "--steps", "20", "-o", str(tmp_path / "g.wav"), "--bundle", b],
                           "--steps"),
                          (["enhance", str(source), "--keep", "noise", "-o", str(tmp_path / "e.wav"), "--bundle", b],
                           "cannot keep"),
                          (["say", "Hi.", "--instruction", "a calm voice", "-o", str(tmp_path / "d.wav")],
                           "--instruction"),  # the default voice takes no instruction
                          (["convert", str(source), "--voice", str(voice), "--top-p", "0.9", "-o",
                            str(tmp_path / "c.wav"), "--bundle", b], "top_p")):
        assert main(argv) == 1
        assert message in capsys.readouterr().err
        assert not (tmp_path / argv[argv.index("-o") + 1]).exists()


def test_exports_refuse_front_ends_the_checkpoint_was_not_trained_with(parts, tmp_path):
    from export import ExportError
    from export.uniaudio import build_random, export_uniaudio, random_codec
    from export.uniaudio_inputs import UniAudioInputs, find_tables

    root, checkout, units, t5 = parts
    tables = find_tables(checkout)
    model, tokens = build_random("tiny", 0)  # the fixture's small tables: 12 phones, 17 units, 5 + 8 singing ids
    codec = random_codec(model.config.audio_bins, "tiny", 0)
    quiet = dict(log=lambda *_: None)
    cases = ((UniAudioInputs(phone_table=tables["phone_table"]), "phone range has 13"),
             (UniAudioInputs(sing_phone_table=tables["sing_phone_table"], sing_midi_table=tables["sing_midi_table"]),
              "sing_phone range has 5"),
             (UniAudioInputs(sing_phone_table=tables["sing_phone_table"]), "both tables"),
             (UniAudioInputs(semantic_units=units), "semantic range has 17"))
    for inputs, message in cases:
        with pytest.raises(ExportError, match=message):
            export_uniaudio(model, codec, tokens, tmp_path / "x", inputs=inputs, **quiet)
        assert not (tmp_path / "x").exists()
    from export.t5_features import random_t5_parts

    narrow = random_t5_parts(0, t5.tokenizer)  # the tiny default width, not the LM's 768
    with pytest.raises(ExportError, match="768"):
        export_uniaudio(model, codec, tokens, tmp_path / "x", inputs=UniAudioInputs(t5_parts=narrow), **quiet)
    with pytest.raises(ExportError, match="no UniAudio tables"):
        find_tables(tmp_path)


def test_bundles_without_a_front_end_say_so(bundle, tmp_path):
    from export.uniaudio import build_random, export_uniaudio, random_codec

    model, tokens = build_random("tiny", 0)
    out = tmp_path / "bare"
    export_uniaudio(model, random_codec(model.config.audio_bins, "tiny", 0), tokens, out, tasks=("tts", "VC"),
                    log=lambda *_: None)
    m = voxlite.load(out)
    assert m.bundle.capabilities == ()
    with pytest.raises(CapabilityError, match="--phone-table"):
        m.synthesize("hello")
    with pytest.raises(CapabilityError, match="speaks in the voice of a prompt"):
        m.synthesize(phones=[1, 2, 3])
    with pytest.raises(CapabilityError, match="--semantic-units"):
        m.convert(noise(0.3), noise(0.3))


def test_audio_streams_while_the_frames_are_sampled(bundle):
    """The first samples come once a push of frames + the decoder's 4 of look-ahead are sampled, not at the end;
    the chunks joined are the offline decode of the run's codes."""
    from voxlite.pipelines.uniaudio import STREAM_PUSH_FRAMES

    m = voxlite.load(bundle)
    sampled = []
    first_at = None
    chunks = []
    phones = m.phones.indices("Hello there.")
    for chunk in m.stream_task("plain_tts", dict(seed=2, progress=lambda i, n: sampled.append(i)), frames=30,
                               phone_seq=phones):
        if first_at is None and chunk.size:
            first_at = sampled[-1]
        chunks.append(chunk)
    assert sampled[-1] == 30 and first_at <= 2 * STREAM_PUSH_FRAMES
    result = m.run_task("plain_tts", phone_seq=phones, seed=2, max_length=30, min_length=31)
    np.testing.assert_allclose(np.concatenate(chunks), m.decode(result.codes), atol=1e-5)
