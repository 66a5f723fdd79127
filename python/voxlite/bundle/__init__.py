"""The voxlite bundle format: a versioned manifest plus the graph and tensor files it lists."""
from .manifest import FORMAT, FORMAT_VERSION, GraphSpec, Manifest, TensorSpec, parse_manifest
from .reader import Bundle, open_bundle
from .writer import BundleWriter, onnx_io_specs, pack_archive

__all__ = ["FORMAT", "FORMAT_VERSION", "Bundle", "BundleWriter", "GraphSpec", "Manifest", "TensorSpec",
           "open_bundle", "onnx_io_specs", "pack_archive", "parse_manifest"]
