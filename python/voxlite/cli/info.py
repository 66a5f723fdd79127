"""``voxlite info``: version, native build, backends (and why), devices, CPU features."""
from __future__ import annotations

import json
import platform

HELP = "show the version, native build, available backends and devices"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def collect() -> dict:
    from .. import __version__
    from ..backends import available_backends, select_backend
    from ..backends.devices import cpu_description, probe_nvidia_gpus
    from ..errors import BackendUnavailable

    try:
        from .. import _native

        native = dict(_native.build_info())
        native["cpu_features"] = dict(native.get("cpu_features", {}))
    except ImportError as e:
        native = {"error": f"voxlite._native not importable: {e}"}
    gpus = probe_nvidia_gpus()
    try:
        auto = select_backend("auto")
        auto_info = {"backend": auto.name, "reason": auto.reason}
    except BackendUnavailable as e:
        auto_info = {"backend": None, "reason": str(e)}
    return {
        "voxlite": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "native": native,
        "cpu": cpu_description(),
        "gpus": [{"index": g.index, "name": g.name, "compute_capability": list(g.compute_capability),
                  "memory_bytes": g.memory_bytes} for g in gpus.gpus],
        "gpu_probe": gpus.reason,
        "backends": [{"name": s.name, "available": s.available, "reason": s.reason,
                      **({} if s.available else {"install": s.install_hint})} for s in available_backends()],
        "auto": auto_info,
    }


def run(args) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    native = info["native"]
    print(f"voxlite {info['voxlite']}  (Python {info['python']}, {info['platform']})")
    if "error" in native:
        print(f"native:   {native['error']}")
    else:
        features = ", ".join(k for k, v in native["cpu_features"].items() if v) or "none detected"
        print(f"native:   {native['compiler']}, {native['build_type']}, C++{str(native['cxx_standard'])[2:4]}, "
              f"stable ABI: {'yes' if native['stable_abi'] else 'no'}, dispatch: {native['dispatch']}")
        print(f"cpu:      {info['cpu']['model']} ({info['cpu']['usable_cores']} usable cores); features: {features}")
    gpus = ", ".join(f"#{g['index']} {g['name']}" for g in info["gpus"]) or f"none ({info['gpu_probe']})"
    print(f"gpus:     {gpus}")
    print("backends:")
    for b in info["backends"]:
        mark = "yes" if b["available"] else "no "
        extra = "" if b["available"] else f"  [install: {b['install']}]"
        print(f"  {b['name']:<13} {mark}  {b['reason']}{extra}")
    print(f"auto:     {info['auto']['backend']}  ({info['auto']['reason']})")
    return 0
