"""Speak text with the default voice, writing the audio to a file as it is generated (the first audio is on disk
long before the last is computed).

    python examples/python/stream_to_file.py "Streaming keeps the first words quick." -o out.wav [--bundle B]
"""
import argparse
import time

import voxlite
from voxlite.audio import open_audio_stream


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("-o", "--output", required=True, help="audio file (.wav, .flac, ...)")
    parser.add_argument("--bundle", default=None, help="a voice bundle (default: the one in the wheel)")
    args = parser.parse_args()

    model = voxlite.load(args.bundle, task="text-to-speech")
    start = time.perf_counter()
    first = None
    samples = 0
    # the file appears at --output only when the block ends without error
    with open_audio_stream(args.output, model.sample_rate) as out:
        for chunk in model.stream(args.text):
            if first is None:
                first = time.perf_counter() - start
            out.write(chunk)
            samples += len(chunk)
    seconds = samples / model.sample_rate
    print(f"wrote {args.output}: {seconds:.2f} s of audio, first audio after {1000 * first:.0f} ms, "
          f"done after {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
