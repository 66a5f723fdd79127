"""Synthesize every line of a text file into its own audio file, with progress (one model load for all lines).

    python examples/python/batch_file.py lines.txt --out-dir clips/ [--bundle B] [--threads 2]
"""
import argparse
import sys
import time
from pathlib import Path

import voxlite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text_file", type=Path, help="UTF-8 text, one utterance per line (blank lines skipped)")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--bundle", default=None, help="a voice bundle (default: the one in the wheel)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    lines = [ln.strip() for ln in args.text_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        sys.exit(f"{args.text_file} has no text")
    model = voxlite.load(args.bundle, task="text-to-speech", threads=args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    start, audio_seconds = time.perf_counter(), 0.0
    width = len(str(len(lines)))
    for i, line in enumerate(lines, 1):
        audio = model.synthesize(line)
        audio.save(args.out_dir / f"{i:0{width}d}.wav")
        audio_seconds += audio.duration
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(lines)}] {audio.duration:5.2f} s  (RTF so far {elapsed / audio_seconds:.3f})  {line[:50]}",
              flush=True)
    print(f"{len(lines)} files in {args.out_dir}: {audio_seconds:.1f} s of audio in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
