"""Speak in the voice of a short recording (3-10 s) with a VoxCPM bundle: give the recording and what it says.

    python examples/python/clone_voice.py "Text to say in that voice." --voice me.wav --voice-text "What me.wav says." \
        --bundle voxcpm -o cloned.wav
"""
import argparse

import voxlite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--voice", required=True, help="the recording to clone (any rate; resampled)")
    parser.add_argument("--voice-text", required=True, help="its transcript")
    parser.add_argument("--bundle", required=True, help="a bundle that can clone voices (VoxCPM, VALL-E X)")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # task= refuses a bundle that cannot clone before anything is loaded
    model = voxlite.load(args.bundle, task="voice-cloning")
    audio = model.synthesize(args.text, prompt_audio=args.voice, prompt_text=args.voice_text, seed=args.seed)
    audio.save(args.output)
    print(f"wrote {args.output}: {audio.duration:.2f} s at {audio.sample_rate} Hz")


if __name__ == "__main__":
    main()
