"""The SSML subset (voxlite.text.ssml): what each element becomes, what is refused (with the supported list), and
how the default voice speaks the segments in order."""
from __future__ import annotations

import numpy as np
import pytest

import voxlite
from voxlite.errors import InvalidInput
from voxlite.text.ssml import Break, Speech, looks_like_ssml, parse
from voxlite.voices import EMBEDDED

needs_voice = pytest.mark.skipif(not (EMBEDDED / "manifest.json").is_file(), reason="no embedded default voice")


def _speak(body: str, **attrs) -> str:
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f"<speak{a}>{body}</speak>"


def _text(body: str) -> str:
    items = parse(_speak(body))
    assert len(items) == 1 and isinstance(items[0], Speech)
    return items[0].text


def test_detection():
    assert looks_like_ssml("  <speak>hi</speak>") and looks_like_ssml('<?xml version="1.0"?>\n<speak>hi</speak>')
    assert not looks_like_ssml("Speak <speak>") and not looks_like_ssml("hello")


def test_speak_with_namespace_and_lang():
    doc = ('<?xml version="1.0" encoding="UTF-8"?><speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis" '
           'xml:lang="en-US">Hello &amp; good <!-- a comment -->day.</speak>')
    assert parse(doc) == [Speech("Hello & good day.", 1.0)]


def test_breaks():
    assert parse(_speak('One. <break time="500ms"/>Two.<break time="1.5s"/><break strength="weak"/>Three.'
                        '<break/>')) == [Speech("One."), Break(0.5), Speech("Two."), Break(1.75), Speech("Three."),
                                         Break(0.4)]
    assert parse(_speak('A<break strength="none"/>b'))[1] == Break(0.0)
    assert parse(_speak('A<break strength="x-strong" time="200ms"/>b'))[1] == Break(0.2)  # time wins
    for bad, message in (('time="5 minutes"', "give a time"), ('time="11s"', "longer than 10 s"),
                         ('strength="huge"', "one of none, x-weak")):
        with pytest.raises(InvalidInput, match=message):
            parse(_speak(f"a<break {bad}/>b"))


def test_prosody_rate():
    def speeds(rate):
        return [i.speed for i in parse(_speak(f'Now <prosody rate="{rate}">this</prosody> then.'))]

    assert speeds("x-slow") == [1.0, 0.5, 1.0]
    assert speeds("fast") == [1.0, 1.25, 1.0]
    assert speeds("150%") == [1.0, 1.5, 1.0]
    assert speeds("+20%") == [1.0, 1.2, 1.0] and speeds("-20%") == [1.0, 0.8, 1.0]
    assert speeds("1.3") == [1.0, 1.3, 1.0] and speeds("medium") == [1.0]  # same rate: one segment
    nested = parse(_speak('<prosody rate="slow">a <prosody rate="200%">b</prosody></prosody>'))
    assert nested == [Speech("a", 0.75), Speech("b", 1.5)]
    with pytest.raises(InvalidInput, match="rate of 2.25; the voice takes 0.5 to 2.0"):
        parse(_speak('<prosody rate="x-fast"><prosody rate="x-fast">a</prosody></prosody>'))
    with pytest.raises(InvalidInput, match="a percentage"):
        parse(_speak('<prosody rate="zippy">a</prosody>'))
    # punctuation right after a prosody ends the text before it
    assert parse(_speak('Hi <prosody rate="slow">there</prosody>.')) == [Speech("Hi"), Speech("there.", 0.75)]


def test_say_as():
    assert _text('<say-as interpret-as="cardinal">1,234</say-as>') == "one thousand two hundred thirty-four"
    assert _text('<say-as interpret-as="cardinal">2024</say-as>') == "two thousand twenty-four"  # not a year
    assert _text('<say-as interpret-as="cardinal">-3.5</say-as>') == "minus three point five"
    assert _text('<say-as interpret-as="ordinal">3</say-as>') == "third"
    assert _text('<say-as interpret-as="ordinal">21st</say-as>') == "twenty-first"
    assert _text('<say-as interpret-as="characters">abc9</say-as>') == "A B C nine"
    assert _text('<say-as interpret-as="date">2024-03-05</say-as>') == "March fifth, twenty twenty-four"
    assert _text('<say-as interpret-as="date" format="dmy">25/12/2024</say-as>') == \
        "the twenty-fifth of December, twenty twenty-four"
    assert _text('<say-as interpret-as="date" format="md">7/4</say-as>') == "July fourth"
    assert _text('<say-as interpret-as="date" format="y">1984</say-as>') == "nineteen eighty-four"
    assert _text('<say-as interpret-as="telephone">555-123-4567</say-as>') == \
        "five five five, one two three, four five six seven"
    assert _text('<say-as interpret-as="telephone">+44 20 7946 0958</say-as>').startswith("plus four four, two zero")
    for body, message in (('<say-as interpret-as="cardinal">twelve</say-as>', "cannot read 'twelve'"),
                          ('<say-as interpret-as="date">2024-13-05</say-as>', "cannot read"),
                          ('<say-as interpret-as="date" format="qq">1</say-as>', "one of mdy"),
                          ('<say-as interpret-as="currency">$5</say-as>', "supported: cardinal, ordinal"),
                          ('<say-as interpret-as="ordinal" format="mdy">3</say-as>', "format is for"),
                          ('<say-as interpret-as="ordinal"><sub alias="x">3</sub></say-as>', "text only")):
        with pytest.raises(InvalidInput, match=message):
            parse(_speak(body))


def test_phoneme_and_sub():
    assert _text('I say <phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>.') == "I say [[təmˈAtO]] ."
    assert _text('<phoneme ph="həlˈO">hello</phoneme>') == "[[həlˈO]]"
    assert _text('The <sub alias="World Wide Web Consortium">W3C</sub> met.') == \
        "The World Wide Web Consortium met."
    with pytest.raises(InvalidInput, match="'q' .* is not a phoneme symbol"):
        parse(_speak('<phoneme ph="qq">x</phoneme>'))
    with pytest.raises(InvalidInput, match="alphabet='x-sampa'"):
        parse(_speak('<phoneme alphabet="x-sampa" ph="h@l">x</phoneme>'))
    with pytest.raises(InvalidInput, match="needs a ph"):
        parse(_speak("<phoneme>x</phoneme>"))
    with pytest.raises(InvalidInput, match="needs an alias"):
        parse(_speak("<sub>x</sub>"))


@pytest.mark.parametrize("doc, message", [
    ("<speak><p>x</p></speak>", "element <p> is not supported; supported: <speak>"),
    ('<speak><prosody pitch="high">x</prosody></speak>', "<prosody> attribute 'pitch' is not supported"),
    ('<speak foo="1">x</speak>', "<speak> attribute 'foo'"),
    ("<speak><speak>x</speak></speak>", "<speak> is not supported here"),
    ('<speak xmlns:v="urn:x"><v:tag>x</v:tag></speak>', "namespace 'urn:x'"),
    ("<voice>x</voice>", "root element must be <speak>"),
    ("<speak>x", "not well-formed"),
    ("<speak>&nbsp;</speak>", "undefined entity"),
    ('<!DOCTYPE speak [<!ENTITY lol "lol">]><speak>&lol;</speak>', "<!DOCTYPE declarations are refused"),
    ('<speak><!ENTITY x "y"></speak>', "<!ENTITY declarations are refused"),
])
def test_refused(doc, message):
    with pytest.raises(InvalidInput) as e:
        parse(doc)
    assert message in str(e.value)
    if "supported" in message:
        assert "<say-as> (format, interpret-as)" in str(e.value)


# -- spoken by the default voice ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def voice():
    return voxlite.load(backend="cpu", threads=1)


@needs_voice
def test_segments_spoken_in_order(voice):
    a = voice.synthesize("Hello there.", seed=0).samples
    b = voice.synthesize("Good day.", seed=1, speed=1.25).samples
    doc = '<speak><break time="100ms"/>Hello there.<break time="500ms"/><prosody rate="fast">Good day.</prosody></speak>'
    expected = np.concatenate([np.zeros(2400, np.float32), a, np.zeros(12000, np.float32), b])
    np.testing.assert_array_equal(voice.synthesize(doc).samples, expected)  # a leading <speak: SSML
    np.testing.assert_array_equal(voice.synthesize(doc, ssml=True).samples, expected)
    streamed = np.concatenate(list(voice.stream(doc)))
    assert len(streamed) == len(expected)
    # the pipeline's pause fills the gaps that have no break
    c = voice.synthesize("See you.", seed=2).samples
    doc = "<speak>Hello there. Good day.<break time=\"200ms\"/>See you.</speak>"
    got = voice.synthesize(doc, pause=0.3).samples
    d = voice.synthesize("Good day.", seed=1).samples
    np.testing.assert_array_equal(got, np.concatenate([a, np.zeros(7200, np.float32), d,
                                                       np.zeros(4800, np.float32), c]))


@needs_voice
def test_ssml_readings_reach_the_voice(voice):
    np.testing.assert_array_equal(
        voice.synthesize('<speak>Room <say-as interpret-as="ordinal">3</say-as>.</speak>').samples,
        voice.synthesize("Room third.").samples)
    np.testing.assert_array_equal(
        voice.synthesize('<speak>Say <phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>.</speak>').samples,
        voice.synthesize("Say [[təmˈɑtO]].").samples)


@needs_voice
def test_ssml_option_checks(voice):
    with pytest.raises(InvalidInput, match="root element must be <speak>|not well-formed"):
        voice.synthesize("Plain text.", ssml=True)
    with pytest.raises(InvalidInput, match="ssml must be True, False or None"):
        voice.synthesize("Hi.", ssml="yes")
    with pytest.raises(InvalidInput, match="text is empty"):
        voice.synthesize('<speak><break time="1s"/></speak>')
    with pytest.raises(InvalidInput, match="element <audio> is not supported"):
        next(voice.stream("<speak><audio src='x.wav'/></speak>"))
