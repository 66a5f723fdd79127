"""1-D convolutions with SEANet/EnCodec padding rules and an explicit-state streaming form.

Offline ``forward`` reproduces the official padding (causal: all padding on the left; otherwise split, odd
remainder on the left; plus the extra right padding that makes the last strided window full). ``stream``
runs a causal layer chunk by chunk with the state passed in and returned, so exported streaming graphs
take ``state`` inputs and give ``new_state`` outputs and the chunked output equals the offline output.
Weights are plain (weight norm is folded by the converters), which is what export wants.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PAD_MODES = ("zeros", "reflect", "replicate")


def extra_padding_for_conv1d(length: int, kernel_size: int, stride: int, padding_total: int) -> int:
    """Right padding that makes the last window full, so a transposed conv can rebuild the whole length."""
    n_frames = (length - kernel_size + padding_total) / stride + 1
    ideal_length = (math.ceil(n_frames) - 1) * stride + (kernel_size - padding_total)
    return ideal_length - length


def pad1d(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """F.pad along time; reflect on inputs shorter than the padding is done as EnCodec does (zero-extend first)."""
    if left == 0 and right == 0:
        return x  # no Pad node in exported graphs (a reflect Pad of nothing misbehaves in ONNX Runtime)
    if mode == "zeros":
        return F.pad(x, (left, right))
    if mode == "reflect":
        length = x.shape[-1]
        max_pad = max(left, right)
        extra = max_pad - length + 1 if length <= max_pad else 0
        if extra:
            x = F.pad(x, (0, extra))
        padded = F.pad(x, (left, right), mode="reflect")
        return padded[..., : padded.shape[-1] - extra]
    return F.pad(x, (left, right), mode=mode)


class SConv1d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
                 groups: int = 1, bias: bool = True, causal: bool = False, pad_mode: str = "zeros"):
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups,
                              bias=bias)
        self.causal = causal
        self.pad_mode = pad_mode
        # Extra right padding depends on the input length; exporters switch it off (graphs then take
        # whole-frame inputs, for which it is zero anyway) so no length arithmetic is baked into a trace.
        self.pad_to_full_frames = True

    @property
    def padding_total(self) -> int:
        k, s, d = self.conv.kernel_size[0], self.conv.stride[0], self.conv.dilation[0]
        return (k - 1) * d - (s - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T / stride)
        total = self.padding_total
        extra = 0
        if self.pad_to_full_frames:
            extra = extra_padding_for_conv1d(x.shape[-1], self.conv.kernel_size[0], self.conv.stride[0], total)
        if self.causal:
            left, right = total, extra
        else:
            right = total // 2
            left, right = total - right, right + extra
        return self.conv(pad1d(x, left, right, self.pad_mode))

    # -- streaming (causal layers only) ----------------------------------------------------------------
    def state_size(self) -> int:
        """Input frames carried between chunks."""
        return self.padding_total

    def initial_state(self, first_chunk: torch.Tensor) -> torch.Tensor:
        """The left context the offline forward pads the stream with (reflect needs padding_total + 1 frames)."""
        p = self.padding_total
        if self.pad_mode == "zeros" or p == 0:
            return first_chunk.new_zeros(first_chunk.shape[0], first_chunk.shape[1], p)
        return pad1d(first_chunk, p, 0, self.pad_mode)[..., :p]

    def stream(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One chunk (length a multiple of the stride) -> (output, new_state)."""
        if not self.causal:
            raise RuntimeError("only causal convolutions stream")
        buf = torch.cat([state, x], dim=-1)
        p = self.padding_total
        # slices from the end (not from a computed length) stay dynamic when traced for export
        return self.conv(buf), (buf[..., -p:] if p else buf[..., :0])


class SConvTranspose1d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 causal: bool = False, trim_right_ratio: float = 1.0, bias: bool = True, groups: int = 1):
        super().__init__()
        if not causal and trim_right_ratio != 1.0:
            raise ValueError("trim_right_ratio != 1 only makes sense for causal convolutions")
        self.convtr = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride, bias=bias, groups=groups)
        self.causal = causal
        self.trim_right_ratio = trim_right_ratio

    def _trims(self) -> tuple[int, int]:
        total = self.convtr.kernel_size[0] - self.convtr.stride[0]
        if self.causal:
            right = math.ceil(total * self.trim_right_ratio)
            return total - right, right
        right = total // 2
        return total - right, right

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, T) -> (B, C_out, T * stride)
        y = self.convtr(x)
        left, right = self._trims()
        return y[..., left: y.shape[-1] - right]

    # -- streaming: overlap-add of the k - s samples that the next chunk's frames still add to -------------
    def state_size(self) -> int:
        return self.convtr.kernel_size[0] - self.convtr.stride[0]

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.convtr.out_channels, self.state_size())

    def stream(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.causal or self._trims()[0] != 0:
            raise RuntimeError("only causal transposed convolutions trimmed fully on the right stream")
        c = self.convtr
        y = F.conv_transpose1d(x, c.weight, None, c.stride, groups=c.groups)  # (B, C, T*s + k - s), no bias
        overlap = self.state_size()
        if overlap == 0:
            out, new_state = y, y[..., :0]
        else:
            y = torch.cat([y[..., :overlap] + state, y[..., overlap:]], dim=-1)
            out, new_state = y[..., :-overlap], y[..., -overlap:]  # from the end: dynamic when traced
        if c.bias is not None:
            out = out + c.bias[None, :, None]
        return out, new_state
