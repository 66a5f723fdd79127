"""The voxlite bundle format: a versioned manifest of named components plus the graph and tensor files it lists.

This package reads, validates and writes the format; it never opens a graph on a backend (pipelines do).
"""
from ..graphio import TensorSpec
from .manifest import (CAPABILITIES, FORMAT, FORMAT_VERSION, Component, GraphSpec, Manifest, parse_manifest,
                       precision_bits)
from .reader import Bundle, open_bundle
from .writer import BundleWriter, onnx_io_specs, pack_archive

__all__ = ["CAPABILITIES", "FORMAT", "FORMAT_VERSION", "Bundle", "BundleWriter", "Component", "GraphSpec", "Manifest",
           "TensorSpec", "open_bundle", "onnx_io_specs", "pack_archive", "parse_manifest", "precision_bits"]
