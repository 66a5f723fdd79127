"""OpenVINO sessions must leave the process able to take signals.

OpenVINO's CPU plugin (``ov::intel_cpu::SigAltStackSetup``, made for AMX's large register state) maps a new
alternate signal stack for the thread that creates the plugin and installs it with ``sigaltstack``, remembering the
previous one; when the plugin is destroyed it puts the remembered stack back only if its own is still the current
one, and unmaps its own either way. Every ``ov.Core`` creates its own plugin instance. So with two Cores alive
(two sessions, each with its own Core) and destroyed in creation order rather than in reverse, the second plugin
"restores" the first plugin's stack, which has already been unmapped: the thread is left with an alternate signal
stack in unmapped memory. CPython installs its signal handlers with SA_ONSTACK, so the next signal handled on that
thread (SIGTERM to a training run, Ctrl-C, faulthandler's own SIGSEGV handler) has its frame written there: a
SIGSEGV with no traceback when the range is still unmapped, or silent corruption of whatever was mapped there since
(seen as a segfault inside torch's autograd engine in ``tests/recipes/test_train_acoustic.py``'s SIGTERM test, after
the OpenVINO codec tests had run in the same process). voxlite therefore opens every OpenVINO session on one
process-wide Core, so the plugin is created once and lives until exit.

The check runs in a subprocess: a broken signal stack in the test process would crash a later test instead."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("openvino")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sigaltstack: Linux only")

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent("""
    import ctypes, gc, signal, sys

    from tests.graphs import make_mixer_onnx, mixer_weights
    from voxlite.backends import open_session

    path = make_mixer_onnx(sys.argv[1], mixer_weights())
    first = open_session(path, backend="openvino")
    second = open_session(path, backend="openvino")
    del first  # the first one goes first: not the reverse of creation
    gc.collect()
    del second
    gc.collect()

    class Stack(ctypes.Structure):
        _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]

    SS_DISABLE = 2
    st = Stack()
    assert ctypes.CDLL(None, use_errno=True).sigaltstack(None, ctypes.byref(st)) == 0
    if not st.flags & SS_DISABLE:
        lo, hi = st.sp, st.sp + st.size
        spans = [tuple(int(x, 16) for x in line.split()[0].split("-")) for line in open("/proc/self/maps")]
        if not any(a <= lo and hi <= b for a, b in spans):
            print(f"alternate signal stack {lo:#x}-{hi:#x} is not mapped", flush=True)
            sys.exit(3)
    got = []
    signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    signal.raise_signal(signal.SIGUSR1)  # handled on this thread, on its alternate stack
    assert got == [signal.SIGUSR1], got
    print("ok", flush=True)
""")


def test_openvino_sessions_leave_a_usable_signal_stack(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "mixer.onnx")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stdout, proc.stderr[-2000:])
