"""The native English G2P (csrc/text/english_g2p.cpp, through voxlite._native and voxlite.text.english_g2p) against
the Python implementation it replaced (tests/reference/english_g2p.py): the same phoneme strings, ids, counts and
refusals (type and message) on every evaluation sentence, on the inputs of tests/test_english_g2p.py and on
generated sentences, with the default voice's letter-to-sound graph and without one; the same calls to the
letter-to-sound model; the same word-level rules; the letter-to-sound codec and inline-phoneme parsing against
their Python originals.

The G2P is compared with Python's normaliser injected (both sides read the same normalised text, so a difference is
the G2P's); ``test_end_to_end_with_the_native_normaliser`` runs the native default normaliser too."""
from __future__ import annotations

import functools
import json
import random
import string
import time
from pathlib import Path

import numpy as np
import pytest

from tests.reference import english_g2p as ref
from tests.reference import letter_to_sound as ref_lts
from tests.reference.english_normalize import normalize_text
from voxlite import _native
from voxlite.errors import BundleError, InvalidInput
from voxlite.text import english_g2p
from voxlite.text import lexicon as lexicon_mod
from voxlite.text.english_g2p import EnglishG2P
from voxlite.text.letter_to_sound import LetterToSound, ctc_greedy
from voxlite.text.phonemes import split_inline, to_inventory

ROOT = Path(__file__).resolve().parent.parent
TOKENIZER = ROOT / "python" / "voxlite" / "voices" / "default" / "tokenizer"
LEXICON = TOKENIZER / "lexicon.json"
EVAL_FILES = sorted((ROOT / "recipes" / "default_voice").glob("eval_sentences*.txt"))
N_GENERATED = 5000
USER_ENTRIES = {"Zorblax": "zˈɔɹblæks", "tomato": "təmˈɑtO", "NASA": "nˈæsə", "O'Neill": "Onˈil", "the": "ðˈi",
                "McGee": "məɡˈi", "gif": "ʤˈɪf"}


# ---------------------------------------------------------------------------------------------- shared pieces

_normalize = functools.lru_cache(maxsize=None)(normalize_text)  # both sides read the same normalised text


@pytest.fixture(scope="module", autouse=True)
def _reference_reads_the_memoised_normaliser():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ref, "normalize_text", _normalize)
        yield


@pytest.fixture(scope="module")
def lexicon():
    return lexicon_mod.load(LEXICON)


class _MemoSession:
    """The default voice's letter-to-sound graph on ONNX Runtime, each distinct word run once (both sides decode
    the same logits)."""

    def __init__(self):
        from voxlite.backends import open_session

        self._session = open_session(TOKENIZER / "letter_to_sound.onnx", backend="cpu", threads=1)
        self.metadata = self._session.metadata
        self._memo = {}

    def run(self, feeds):
        key = feeds["letter_ids"].tobytes()
        if key not in self._memo:
            self._memo[key] = self._session.run(feeds)
        return self._memo[key]


@pytest.fixture(scope="module")
def session():
    pytest.importorskip("onnxruntime")
    return _MemoSession()


class _Recording:
    """A letter-to-sound callable that records the words it is asked (the two G2Ps must ask the same)."""

    def __init__(self, fn):
        self.fn, self.words = fn, []

    def __call__(self, word):
        self.words.append(word)
        return self.fn(word)


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except InvalidInput as e:
        return "InvalidInput", str(e)


def _outcomes(g, texts):
    return [tuple(_outcome(getattr(g, name), text) for name in ("phonemize", "encode", "count")) for text in texts]


def _compare(want, n, texts, what):
    """``texts`` through the native G2P ``n`` (phonemize, encode, count: value or refusal) against the reference's
    outcomes ``want``; returns the number compared."""
    got = _outcomes(n, texts)
    bad = [(text, w, g) for text, w, g in zip(texts, want, got) if w != g]
    assert not bad, f"{what}: {len(bad)} of {len(texts)} differ, first: {bad[:3]}"
    return len(texts)


# ---------------------------------------------------------------------------------------------- inputs

def _eval_lines() -> list[str]:
    lines = []
    for path in EVAL_FILES:
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) > 700
    return lines


def _generated(lexicon: dict[str, str], n: int, seed: int) -> list[str]:
    """Sentences of known and unknown words, names, hyphenated words, possessives, contractions, acronyms, spelled
    letters, digits, money, dates, inline [[phonemes]] (valid, IPA, malformed), punctuation and odd characters."""
    rng = random.Random(seed)
    words = sorted(w for w in lexicon if w.isascii())
    plain = [w for w in words if w.isalpha()]
    lower = [w for w in plain if w.islower()]
    values = sorted(set(lexicon.values()))
    cons, vows = "bcdfghjklmnpqrstvwxz", "aeiouy"

    def unknown():
        s = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(1, 6)))
        return s[: rng.randint(2, len(s))] + rng.choice(["", "", "x", "th", "ng", "zz", "sk"])

    def cased(w):
        k = rng.random()
        return w.upper() if k < 0.08 else w.capitalize() if k < 0.3 else w

    def inline():
        k = rng.random()
        if k < 0.35:
            body = " ".join(rng.choice(values) for _ in range(rng.randint(1, 3)))
        elif k < 0.6:
            body = rng.choice(["təˈmeɪtoʊ", "ˈhɛloʊ wɜrld", "dʒʌdʒ", "tʃɝtʃ", "ɡoʊ", "ˈɒfən", "eɪt.iː", "r ɚ",
                               "ˈx", " ˈAbəl ", "o'kei", "ɐbaʊt", "e\u0361ɪ", "bəˈnɑnə"])
        elif k < 0.8:
            body = rng.choice(["", " ", "ˈ", "ˈ ˌ", "xyz!", "ʘ", "a\tb", "ö", "\u200b", "q", "1", "[", "ɑ]"])
        else:
            body = "".join(rng.choice(PHONEME_POOL) for _ in range(rng.randint(1, 8)))
        return f"[[{body}]]"

    def token():
        k = rng.random()
        if k < 0.30:
            return cased(rng.choice(plain))
        if k < 0.38:
            return cased(unknown())
        if k < 0.42:
            return unknown().capitalize() + rng.choice(["", "son", "ski", "ova"])
        if k < 0.46:
            return "-".join(rng.choice([rng.choice(lower), unknown()]) for _ in range(rng.randint(2, 3)))
        if k < 0.51:
            return rng.choice([rng.choice(plain), unknown().capitalize(), rng.choice(lower) + "s"]) + \
                rng.choice(["'s", "s'", "’s", "'"])
        if k < 0.56:
            return rng.choice(["don't", "can't", "I'm", "they're", "we'll", "you've", "she'd", "it’s", "y'all",
                               "o'clock", "rock'n'roll", "O'Neill", rng.choice(lower) + "n't",
                               unknown() + "'ll", unknown() + "'" + unknown(), "'tis", "ma'am"])
        if k < 0.60:
            return "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(2, 7)))
        if k < 0.63:
            return " ".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(1, 4)))
        if k < 0.70:
            return rng.choice([str(rng.randint(0, 100)), str(rng.randint(1000, 2100)),
                               f"${rng.randint(1, 999)}.{rng.randint(0, 99):02d}", f"{rng.randint(1, 12)}:"
                               f"{rng.randint(0, 59):02d}", "".join(rng.choice(string.digits) for _ in range(
                                   rng.randint(13, 20))), f"{rng.randint(1000, 99999):,}", "3rd", "21st", "1/2",
                               "50%", f"{rng.randint(1, 28)}/{rng.randint(1, 12)}/20{rng.randint(10, 30)}",
                               "#1", "2nd-rate", "v2.0", "5km", "12.5"])
        if k < 0.75:
            return rng.choice(["the", "a", "A", "an", "The", "THE", "the"])
        if k < 0.80:
            stem = rng.choice(lower)
            return stem + rng.choice(["ed", "d", "ing", "ly", "s", "es", "ies", "ied", stem[-1:] + "ing",
                                      stem[-1:] + "ed"])
        if k < 0.83:
            return rng.choice(lower) + rng.choice(lower)
        if k < 0.87:
            return inline()
        if k < 0.93:
            return rng.choice([",", ".", "!", "?", ";", ":", "-", "—", "(", ")", '"', "'", "…", "...", "&"])
        if k < 0.96:
            return rng.choice(["café", "naïve", "Zoë", "🙂", "\u00a0", "\u200b", "日本", "Straße", "Ænima",
                               "\t", "\x00", "\x7f", "\u2028", "\ufeff", "\U0001f600x", "x\u0301"])
        return rng.choice(list(USER_ENTRIES))

    out = []
    for _ in range(n):
        k = rng.random()
        if k < 0.03:  # nothing speakable
            out.append(rng.choice(["", "   ", "...", "!?", "🙂🙂", "\u200b", "— —", "日本語", "' '", "[[]]", "\x01"]))
            continue
        toks = [token() for _ in range(rng.randint(1, 14))]
        s = ""
        for t in toks:
            s += (t if s == "" or (t in ",.!?;:" and rng.random() < 0.7) else " " + t)
        out.append(s + rng.choice(["", ".", ".", "?", "!", "…"]))
    return out


PHONEME_POOL = list(english_g2p.PHONEMES) + ["eɪ", "aɪ", "oʊ", "dʒ", "tʃ", "g", "r", "ɚ", "ɝ", "ɒ", "ː", ".", "'",
                                             " ", "ˈ", "ˌ"]

# the inputs of tests/test_english_g2p.py
ENGLISH_G2P_TEXTS = ["Hello world.", "Cats, dogs and buses!", "walked wanted played", "making running", "moonbeam",
                     "quick-walk", "ABC", "the cat, the apple", "a cat", "A cat", "B A C", "Bob's cat", "Dr. Smith",
                     "Dr. Smith paid $3.50.", "Hello world", "hello world", "world", "hello", "", "   ", "...", "!?",
                     "Xyzzy", "the Xyzzy cat", "Hello, cats.", "Hello cats quick-walk ABC", "Zygote's", "Abcab",
                     "catdogbus"]


# ---------------------------------------------------------------------------------------------- the agreement

@pytest.fixture(scope="module")
def sentences(lexicon):
    return _eval_lines() + ENGLISH_G2P_TEXTS + _generated(lexicon, N_GENERATED, seed=20240531)


def test_constants_are_the_natives():
    assert _native.english_inventory() == english_g2p.inventory() == ref.inventory()
    assert english_g2p.PHONEMES == ref.PHONEMES and english_g2p._VOWELS == ref._VOWELS
    assert english_g2p.WEAK_FORMS == ref.WEAK_FORMS and english_g2p.INVENTORY_VERSION == ref.INVENTORY_VERSION


@pytest.fixture(scope="module")
def reference_without_model(lexicon, sentences):
    return _outcomes(ref.EnglishG2P(dict(lexicon)), sentences)


@pytest.fixture(scope="module")
def reference_with_model(lexicon, sentences, session):
    """(outcomes, the words the model was asked) of the reference with the default voice's letter-to-sound graph."""
    asked = _Recording(ref_lts.LetterToSound(session))
    return _outcomes(ref.EnglishG2P(dict(lexicon), letter_to_sound=asked), sentences), asked.words


def test_without_letter_to_sound(sentences, reference_without_model):
    n = EnglishG2P.from_file(LEXICON, normalize=_normalize)
    assert n.letter_to_sound is None
    assert _compare(reference_without_model, n, sentences, "no letter-to-sound model") >= N_GENERATED + 700


def test_with_the_default_voices_letter_to_sound(sentences, session, reference_with_model):
    want, asked = reference_with_model
    n_lts = _Recording(LetterToSound(session))
    n = EnglishG2P.from_file(LEXICON, n_lts, normalize=_normalize)
    _compare(want, n, sentences, "the default voice's letter-to-sound graph")
    assert len(n_lts.words) > 1000 and n_lts.words == asked  # the same words went to the model, in order


def test_end_to_end_with_the_native_normaliser(sentences, session, reference_with_model):
    """The native default normaliser (the C runtime's) instead of the injected Python one: the whole native front
    end against the whole Python one."""
    n = EnglishG2P.from_file(LEXICON, LetterToSound(session))
    _compare(reference_with_model[0], n, sentences, "native normaliser")


def test_user_lexicon(lexicon, sentences):
    r = ref.EnglishG2P(dict(lexicon))
    n = EnglishG2P.from_file(LEXICON, normalize=_normalize)
    assert r.add_lexicon(dict(USER_ENTRIES)) == n.add_lexicon(dict(USER_ENTRIES)) == len(USER_ENTRIES)
    assert dict(n.user_lexicon) == r.user_lexicon  # with the lower-case forms ("zorblax", "nasa", "o'neill")
    texts = sentences[::3]
    _compare(_outcomes(r, texts), n, texts, "user lexicon")


def test_encode_pair(lexicon, sentences):
    r = ref.EnglishG2P(dict(lexicon))
    n = EnglishG2P.from_file(LEXICON, normalize=_normalize)
    rng = random.Random(7)
    for text in sentences[:: 25]:
        prompt = rng.choice([None, "", "Hello there.", rng.choice(sentences)])
        assert _outcome(r.encode_pair, text, prompt) == _outcome(n.encode_pair, text, prompt), (text, prompt)


# ---------------------------------------------------------------------------------------------- the rules

def _words(lexicon, n, seed):
    rng = random.Random(seed)
    known = sorted(w for w in lexicon if w.isascii())
    out = []
    for _ in range(n):
        w = rng.choice(known)
        k = rng.random()
        if k < 0.3:
            w = w.capitalize() if rng.random() < 0.5 else w.upper()
        elif k < 0.5:
            w = w + rng.choice(["s", "es", "ed", "ing", "ly", "'s", "s'", "ied", "ies"])
        elif k < 0.7:
            w = w + rng.choice(known).lower()
        elif k < 0.8:
            w = w + "-" + rng.choice(known)
        elif k < 0.85:
            w = "".join(rng.choice(string.ascii_letters + "'’-") for _ in range(rng.randint(1, 16)))
        elif k < 0.9:  # text never gives such words (its words are ASCII), word() may be asked them
            w = "".join(rng.choice("abcXYZ'-" + NON_ASCII) for _ in range(rng.randint(1, 8)))
        else:
            w = "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 4)))
        out.append(w)
    return out


# Letters outside ASCII (but not those whose Unicode case mapping is ASCII: U+212A KELVIN SIGN lowers to "k", U+0130
# to "i̇", "ß" / "ﬁ" upper-case to "SS" / "FI"; the native rules map case in ASCII only, see english_g2p.h).
NON_ASCII = "éÉÆæøØłŁñÑçÇüÜöÖǅµ日ωΣ"


def test_word_rules(lexicon):
    """word() and the rules behind it, word by word (also what the letter-to-sound evaluation recipe calls)."""
    r = ref.EnglishG2P(dict(lexicon))
    n = EnglishG2P.from_file(LEXICON)
    for w in _words(lexicon, 3000, seed=3):
        assert r.word(w) == n.word(w), w
        assert r._entry(w) == n._entry(w), w
        assert r._suffixed(w) == n._suffixed(w), w
        assert r._spell(w) == n._spell(w), w
        low = w.lower()
        assert r._compound(low) == n._compound(low), w
        assert r._compound(low, max_pieces=2) == n._compound(low, max_pieces=2), w


def test_test_english_g2p_cases():
    """tests/test_english_g2p.py's hand-made lexicon and letter-to-sound stand-ins, on both implementations."""
    from tests.test_english_g2p import LEX

    xyz = {**LEX, "X": "ˈɛks", "Y": "wˈI", "Z": "zˈi"}
    for lex, answer in ((LEX, None), (xyz, None), (LEX, "zˈiɡOt"), (LEX, "")):
        r_lts = n_lts = None
        if answer is not None:
            r_lts, n_lts = _Recording(lambda w, a=answer: a or None), _Recording(lambda w, a=answer: a or None)
        r = ref.EnglishG2P(dict(lex), letter_to_sound=r_lts)
        n = EnglishG2P(dict(lex), letter_to_sound=n_lts, normalize=_normalize)
        texts = ENGLISH_G2P_TEXTS + ["Hello world.\n[[həlˈO]], the [[ˈæpᵊl]] cat"]
        _compare(_outcomes(r, texts), n, texts, "test_english_g2p")
        if answer is not None:
            assert r_lts.words == n_lts.words


def test_other_symbol_lists():
    from tests.test_english_g2p import LEX

    inv = english_g2p.inventory()
    for symbols in (inv[::-1], inv + ["ʘ", "ab", "k"], inv[:30]):  # reordered; repeated (the last id wins); partial
        r = ref.EnglishG2P(dict(LEX), symbols=list(symbols))
        n = EnglishG2P(dict(LEX), symbols=list(symbols), normalize=_normalize)
        assert n.vocab_size == r.vocab_size and n.ids == r.ids
        texts = ["Hello world.", "the apple, Bob's cat!", "Xyzzy"]
        assert _outcomes(n, texts) == _outcomes(r, texts)
        for ph in ("həlˈO wˈɜɹld.", "ʘab k", ""):
            assert n.encode_phonemes(ph) == r.encode_phonemes(ph)
            assert n.encode_phonemes(ph, add_bos_eos=False) == r.encode_phonemes(ph, add_bos_eos=False)


def test_lexicon_changes_through_the_mapping_views(lexicon):
    """What recipes/default_voice/eval_letter_to_sound.py does: pop entries, read with the rules, put them back."""
    n = EnglishG2P.from_file(LEXICON)
    assert len(n.lexicon) == len(lexicon) and n.lexicon["hello"] == lexicon["hello"] and "hello" in n.lexicon
    assert list(n.lexicon)[:5] == list(lexicon)[:5]  # the file's order
    before = n.word("hello")
    removed = {k: n.lexicon.pop(k) for k in ("hello", "Hello", "HELLO") if k in n.lexicon}
    assert "hello" not in n.lexicon and n.word("hello") != before  # the cache follows the change
    n.lexicon.update(removed)
    assert n.word("hello") == before and len(n.lexicon) == len(lexicon)
    with pytest.raises(KeyError):
        n.lexicon["not-a-word-at-all"]


def test_lexicon_file_refusals_match_lexicon_load(tmp_path):
    path = tmp_path / "lexicon.json"
    lexicon_mod.save(path, {"a": "A"}, {"package": "test"})
    doc = json.loads(path.read_text())
    versions = (99, None, 1.5, "1", 1e16, 1e15, 1e-5, 0.0001, -0.0, 2**60, [1, "a'", None, False], {"a": 2.5})
    for broken in ({**doc, "format": "x"}, *({**doc, "version": v} for v in versions), {**doc, "entries": {"a": 1}},
                   {**doc, "entries": []}, [doc], {"entries": {}, "version": 1}):
        path.write_text(json.dumps(broken))
        with pytest.raises(BundleError) as want:
            lexicon_mod.load(path)
        with pytest.raises(BundleError) as got:
            EnglishG2P.from_file(path)
        assert str(got.value) == str(want.value)
    for fine in ({**doc, "version": 1.0}, {**doc, "version": True}):  # == 1 in Python
        path.write_text(json.dumps(fine))
        assert EnglishG2P.from_file(path).lexicon["a"] == lexicon_mod.load(path)["a"]
    for unreadable in ("{not json", '{"format": "voxlite-lexicon", "entries": {"a": "\\ud800"}, "version": 1}'):
        path.write_text(unreadable)
        with pytest.raises(BundleError, match="unreadable lexicon"):
            EnglishG2P.from_file(path)
    with pytest.raises(BundleError, match="unreadable lexicon"):
        EnglishG2P.from_file(tmp_path / "missing.json")


def test_refusals_keep_their_messages():
    n = EnglishG2P({"a": "A"}, normalize=_normalize)
    r = ref.EnglishG2P({"a": "A"})
    for text in ("  🙂 ", "'\"\\\t\n\x00\x85\u200b\ud7ff" * 9, "x [[ʘ]]", "[[]]", "[[ˈ ˌ]]", "[[a b]] [[ÿ]]"):
        assert _outcome(r.encode, text) == _outcome(n.encode, text)
        assert _outcome(r.encode, text)[0] == "InvalidInput"
    with pytest.raises(InvalidInput, match="text must be a str"):
        n.phonemize(b"bytes")


def test_one_thread_at_a_time(lexicon):
    """Threads share a G2P (the server's workers do): calls wait for each other and read as one thread would."""
    import threading

    texts = _generated(lexicon, 200, seed=9)
    model = _Recording(lambda w: "zˈu" if len(w) % 2 else None)
    n = EnglishG2P.from_file(LEXICON, model, normalize=_normalize)
    want = _outcomes(EnglishG2P.from_file(LEXICON, model, normalize=_normalize), texts)
    got = {}

    def work(k):
        got[k] = _outcomes(n, texts[k::4] + texts[: k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert got[k] == want[k::4] + want[: k]


def test_callbacks_may_not_reenter_and_cycles_are_collected():
    import gc
    import weakref

    class Model:
        g2p = None

        def __call__(self, word):
            return self.g2p.word("cat") if word == "reenter" else None

    model = Model()
    g = EnglishG2P({"cat": "kˈæt"}, letter_to_sound=model, normalize=_normalize)
    model.g2p = g
    with pytest.raises(RuntimeError, match="called again from inside"):
        g.phonemize("reenter")
    assert g.phonemize("cat") == "kˈæt"  # still usable
    alive = weakref.ref(g)
    del g, model
    gc.collect()
    assert alive() is None  # G2P -> model -> G2P: the collector sees the callable the native object holds


# ---------------------------------------------------------------------------------------------- inline phonemes

def test_inline_phonemes_parse_as_in_python():
    rng = random.Random(11)
    pool = PHONEME_POOL + ["x", "ʘ", "é", "\u200b", "\t", "\u3000", "1", "'", "[", "]", "🙂", "\U0010ffff", "\x00",
                           "\x7f", "\xa0", "\u0378", "\U000e0001", "\ue000", "\\"]
    for _ in range(3000):
        body = "".join(rng.choice(pool) for _ in range(rng.randint(0, 10)))
        assert _outcome(to_inventory, body) == _outcome(_native_to_inventory, body), repr(body)
        text = rng.choice(["", "a ", "[[", "]] "]) + f"[[{body}]]" + rng.choice(["", ", b", "]]", " [[ə]]."])
        assert _outcome(split_inline, text) == _outcome(_native_split_inline, text), repr(text)


def _native_to_inventory(body):
    try:
        return _native.english_to_inventory(body)
    except _native.TextError as e:
        raise InvalidInput(str(e)) from None


def _native_split_inline(text):
    try:
        return [tuple(p) for p in _native.english_split_inline(text)]
    except _native.TextError as e:
        raise InvalidInput(str(e)) from None


def test_python_repr():
    rng = random.Random(5)
    specials = ["'", '"', "\\", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\x80", "\xa0", "\xad", "é", "\u200b",
                "\u2028", "\u0378", "\ufeff", "\ue000", "\U0001f600", "\U000e0001", "\U0010ffff", "日", " "]
    for _ in range(2000):
        s = "".join(rng.choice(specials) if rng.random() < 0.5 else chr(rng.randrange(0x110000))
                    for _ in range(rng.randint(0, 6)))
        s = s.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates: text reaching the G2P is UTF-8
        assert _native.python_repr(s) == repr(s)


# ---------------------------------------------------------------------------------------------- letter-to-sound codec

def test_codec_matches_the_numpy_reference(session):
    native, reference = LetterToSound(session), ref_lts.LetterToSound(session)
    assert native.letters == reference.letters and native.symbols == reference.symbols
    rng = random.Random(2)
    words = ["", "a", "Mozart", "O'Neill", "x" * 48, "x" * 49, "123", "--", "zzz", "café", "ÉCOLE", "a’b"]
    words += ["".join(rng.choice(string.ascii_letters + "'-1é") for _ in range(rng.randint(1, 20))) for _ in range(300)]
    for w in words:
        assert native(w) == reference(w), w


def test_ctc_greedy_matches_numpy():
    rng = np.random.default_rng(0)
    symbols = english_g2p.PHONEMES
    for t in range(300):
        T, V = int(rng.integers(0, 40)), len(symbols) + 1
        logits = rng.integers(-3, 3, (T, V)).astype(np.float32)  # many ties: the lowest id wins, as numpy's argmax
        if t % 7 == 0 and T:
            logits[rng.integers(0, T), rng.integers(0, V)] = np.nan
        for arr in (logits, logits.astype(np.float64), logits.astype(np.float16)):
            assert ctc_greedy(arr, symbols) == ref_lts.ctc_greedy(arr, symbols)
        assert ctc_greedy(logits, list(symbols)) == ref_lts.ctc_greedy(logits, list(symbols))
    with pytest.raises(IndexError):
        ctc_greedy(np.eye(3, dtype=np.float32), "a")  # id 2 past the one symbol


# ---------------------------------------------------------------------------------------------- speed

def test_native_is_faster(lexicon, sentences):
    """Lexicon load and phonemize (normalisation excluded) against the Python implementation; printed with -s."""
    texts = [_normalize(s) for s in _eval_lines()]
    t = time.perf_counter()
    n = EnglishG2P.from_file(LEXICON, normalize=str)
    load_native = time.perf_counter() - t
    t = time.perf_counter()
    r = ref.EnglishG2P(lexicon_mod.load(LEXICON))
    load_python = time.perf_counter() - t

    def speed(g):
        g.phonemize("warm up")
        t = time.perf_counter()
        for s in texts:
            g.phonemize(s)
        return time.perf_counter() - t

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ref, "normalize_text", str)
        py_cold, nat_cold = speed(r), speed(n)
        py_warm, nat_warm = speed(r), speed(n)
    print(f"\nlexicon load: native {load_native * 1e3:.0f} ms, Python {load_python * 1e3:.0f} ms; phonemize "
          f"{len(texts)} normalised sentences: native {nat_cold * 1e3:.1f} ms cold / {nat_warm * 1e3:.1f} ms warm, "
          f"Python {py_cold * 1e3:.1f} / {py_warm * 1e3:.1f} ms")
    assert load_native < load_python and nat_cold < py_cold
