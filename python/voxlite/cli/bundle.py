"""``voxlite bundle inspect|verify|pack|migrate``: look into, check, archive and upgrade bundles."""
from __future__ import annotations

import json

HELP = "inspect, verify, pack or migrate a bundle"


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("inspect", help="print the manifest summary (validated)")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="print the whole manifest")
    p = sub.add_parser("verify", help="check every file's size and sha256, and that each graph loads on a backend")
    p.add_argument("path")
    p.add_argument("--backend", default="cpu")
    p = sub.add_parser("pack", help="write a bundle directory as a single-file archive")
    p.add_argument("path")
    p.add_argument("-o", "--output", required=True)
    p = sub.add_parser("migrate", help="rewrite a format-version-1 bundle directory as version 2 (files unchanged)")
    p.add_argument("path")
    p.add_argument("output", nargs="?", help="new bundle directory (default: rewrite the manifest in place)")


def run(args) -> int:
    from ..bundle import open_bundle, pack_archive

    if args.action == "pack":
        out = pack_archive(args.path, args.output)
        print(f"wrote {out}")
        return 0
    if args.action == "migrate":
        from ..bundle.migrate import migrate_bundle

        out = migrate_bundle(args.path, args.output)
        print(f"wrote {out} (format_version 2)")
        return 0
    bundle = open_bundle(args.path, verify=args.action == "verify")
    from ..hparams import check_components

    check_components(bundle)
    m = bundle.manifest
    if args.action == "inspect" and args.json:
        print(json.dumps(m.raw, indent=2))
        return 0
    print(f"{m.name}: model_type={m.model_type}, format_version={m.format_version}, "
          f"sample_rate={m.sample_rate}, {len(m.files)} files, "
          f"{sum(f.bytes for f in m.files.values()) / 1e6:.2f} MB")
    print(f"  capabilities: {', '.join(m.capabilities) or 'none (graphs only)'}")
    for c in m.components.values():
        print(f"  component {c.name} ({c.kind})")
        for g in c.graphs.values():
            ins = ", ".join(f"{s.name}:{s.dtype}{list(s.shape)}" for s in g.inputs)
            outs = ", ".join(f"{s.name}:{s.dtype}{list(s.shape)}" for s in g.outputs)
            print(f"    graph {g.name} [{', '.join(g.precisions)}]: ({ins}) -> ({outs})")
        for t in c.tensors.values():
            print(f"    tensor {t.name}: {t.dtype}{list(t.shape)}")
        for role, path in c.files.items():
            print(f"    file {role}: {path}")
    if args.action == "verify":
        from ..pipelines.sessions import GraphSessions

        sessions = GraphSessions(bundle, backend=args.backend)
        for g in m.graphs.values():  # every stored variant (an int8-only graph next to a float-only one included)
            for precision in g.precisions:
                sessions.open_variant(g.name, precision)
        print(f"ok: every file matches its sha256 and every graph loads on {args.backend}")
    return 0
