"""KV cache against the naive concatenating cache (tests/reference/kvcache.py)."""
from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.reference.kvcache import NaiveKVCache
from voxlite.kernels.kvcache import KVCache

SPEC = {"n_layers": 3, "n_kv_heads": 2, "head_dim": 8, "dtype": "float32"}


def rand_kv(rng, B, H, t, D, dtype, layout="contiguous"):
    """k, v (B, H, t, D): contiguous, or views of bigger arrays with contiguous rows but a
    position stride of 2 * D ("rows"), or with no contiguous axis at all ("elements")."""
    if layout == "rows":
        big = rng.standard_normal((2, B, H, 2 * t, D)).astype(dtype)
        return big[0, :, :, ::2], big[1, :, :, 1::2]
    if layout == "elements":
        big = rng.standard_normal((2, B, H, D, 2 * t)).astype(dtype)
        return big[0, :, :, :, ::2].swapaxes(2, 3), big[1, :, :, :, 1::2].swapaxes(2, 3)
    return (rng.standard_normal((B, H, t, D)).astype(dtype),
            rng.standard_normal((B, H, t, D)).astype(dtype))


def assert_same_state(cache, naive):
    assert cache.length == naive.length
    for layer in range(naive.n_layers):
        for got, want in ((cache.keys(layer), naive.keys(layer)),
                          (cache.values(layer), naive.values(layer))):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(cache.contiguous_keys(layer), naive.keys(layer))
        np.testing.assert_array_equal(cache.contiguous_values(layer), naive.values(layer))


def both(cache, naive, name, *args):
    """Apply an operation to both caches: both succeed or both raise ValueError."""
    try:
        getattr(naive, name)(*args)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(cache, name)(*args)
        return False
    getattr(cache, name)(*args)
    return True


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_layers=st.integers(1, 4), B=st.integers(1, 2),
       H=st.integers(1, 3), max_len=st.integers(1, 12), D=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float16]),
       ops=st.lists(st.tuples(st.sampled_from(["step", "step", "write", "advance", "trim", "reset"]),
                              st.integers(0, 4), st.integers(0, 3),
                              st.sampled_from(["contiguous", "rows", "elements"])),
                    min_size=1, max_size=25))
def test_random_operations_match_naive_cache(seed, n_layers, B, H, max_len, D, dtype, ops):
    rng = np.random.default_rng(seed)
    cache = KVCache(n_layers, B, H, max_len, D, dtype=dtype)
    naive = NaiveKVCache(n_layers, B, H, max_len, D, dtype)
    for op, a, b, layout in ops:
        if op == "step":
            kvs = [rand_kv(rng, B, H, a, D, dtype, layout) for _ in range(n_layers)]
            both(cache, naive, "append", [k for k, _ in kvs], [v for _, v in kvs])
        elif op == "write":
            k, v = rand_kv(rng, B, H, b, D, dtype, layout)
            both(cache, naive, "write", a % n_layers, k, v)
        elif op == "advance":
            both(cache, naive, "advance", b)
        elif op == "trim":
            both(cache, naive, "trim", min(a, naive.length + 1))
        else:
            both(cache, naive, "reset")
        assert_same_state(cache, naive)


def test_views_share_memory_and_see_writes():
    rng = np.random.default_rng(0)
    cache = KVCache.from_spec(SPEC, max_len=16)
    for _ in range(5):
        kvs = [rand_kv(rng, 1, 2, 1, 8, np.float32) for _ in range(3)]
        cache.append([k for k, _ in kvs], [v for _, v in kvs])
    keys, values, buf = cache.keys(1), cache.values(1), cache.buffer(1)
    assert keys.shape == (1, 2, 5, 8) and buf.shape == (2, 1, 2, 16, 8)
    assert np.shares_memory(keys, buf) and np.shares_memory(values, buf)
    assert not np.shares_memory(cache.keys(0), buf)
    assert not keys.flags.writeable and buf.flags.writeable and buf.flags.c_contiguous
    np.testing.assert_array_equal(buf[0, :, :, :5], keys)
    np.testing.assert_array_equal(buf[1, :, :, :5], values)
    np.testing.assert_array_equal(buf[:, :, :, 5:], 0)  # unused positions are zeros
    # Rewrite position 4 after trimming: the views taken earlier see the new data.
    cache.trim(4)
    new = [rand_kv(rng, 1, 2, 1, 8, np.float32) for _ in range(3)]
    cache.append([k for k, _ in new], [v for _, v in new])
    np.testing.assert_array_equal(keys[:, :, 4], new[1][0][:, :, 0])
    np.testing.assert_array_equal(values[:, :, 4], new[1][1][:, :, 0])
    # Writing through the buffer (IO binding) is visible through keys().
    buf[0, 0, 1, 2] = 42.0
    assert cache.keys(1)[0, 1, 2, 0] == 42.0
    # contiguous copies do not alias the cache.
    copy = cache.contiguous_keys(1)
    assert copy.flags.c_contiguous and not np.shares_memory(copy, buf)


def test_views_keep_the_cache_alive():
    """Lifetime: a view keeps the storage alive after the KVCache is dropped."""
    rng = np.random.default_rng(1)
    cache = KVCache(2, 1, 2, 8, 4)
    k, v = rand_kv(rng, 1, 2, 3, 4, np.float32)
    cache.append([k, k], [v, v])
    view, buf = cache.keys(0), cache.buffer(1)
    native = weakref.ref(cache._cache)
    del cache
    gc.collect()
    assert native() is not None
    np.testing.assert_array_equal(view, k)  # still readable, still the same data
    np.testing.assert_array_equal(buf[1, :, :, :3], v)
    del view
    gc.collect()
    assert native() is not None  # buf still holds it
    del buf
    gc.collect()
    assert native() is None  # freed with its last view


def test_contiguous_out_reuse():
    rng = np.random.default_rng(2)
    cache = KVCache(1, 1, 2, 32, 4)
    kbuf = np.empty((1, 2, 32, 4), np.float32)  # preallocated for max_len
    for step in range(1, 6):
        k, v = rand_kv(rng, 1, 2, 1, 4, np.float32)
        cache.append([k], [v])
        got = cache.contiguous_keys(0, out=kbuf)
        assert got.shape == (1, 2, step, 4) and got.flags.c_contiguous
        assert np.shares_memory(got, kbuf) and got.ctypes.data == kbuf.ctypes.data
        np.testing.assert_array_equal(got, cache.keys(0))
    exact = np.empty((1, 2, 5, 4), np.float32)
    assert cache.contiguous_values(0, out=exact) is exact
    np.testing.assert_array_equal(exact, cache.values(0))
    with pytest.raises(ValueError, match="needs at least 40"):
        cache.contiguous_keys(0, out=np.empty(39, np.float32))
    with pytest.raises(ValueError, match="dtype float64"):
        cache.contiguous_keys(0, out=np.empty(40, np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        cache.contiguous_keys(0, out=np.empty((80,), np.float32)[::2])
    ro = np.empty(40, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        cache.contiguous_keys(0, out=ro)


def test_float16_storage():
    rng = np.random.default_rng(3)
    cache = KVCache(2, 1, 1, 4, 3, dtype="float16")
    assert cache.dtype == np.float16 and cache.nbytes == 2 * 2 * 1 * 1 * 4 * 3 * 2
    k, v = rand_kv(rng, 1, 1, 2, 3, np.float16)
    cache.append([k, k], [v, v])
    assert cache.keys(1).dtype == np.float16
    np.testing.assert_array_equal(cache.keys(1), k)  # bit-exact: the cache only moves bytes
    np.testing.assert_array_equal(cache.contiguous_values(0), v)
    with pytest.raises(ValueError, match="dtype float32, the cache holds float16"):
        cache.write(0, k.astype(np.float32), v.astype(np.float32))


def test_errors():
    cache = KVCache(2, 1, 2, 4, 3)
    ok = np.zeros((1, 2, 1, 3), np.float32)
    with pytest.raises(ValueError, match=r"overflow: 5 new positions at length 0 exceed the capacity 4"):
        cache.write(0, np.zeros((1, 2, 5, 3), np.float32), np.zeros((1, 2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(1, 2, 1, 4\), expected .* = \(1, 2, 1, 3\)"):
        cache.write(0, ok, np.zeros((1, 2, 1, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(1, 3, 1, 3\)"):
        cache.write(0, np.zeros((1, 3, 1, 3), np.float32), ok)
    with pytest.raises(ValueError, match="must be \\[batch, n_heads, t, head_dim\\]"):
        cache.write(0, ok[0], ok[0])
    with pytest.raises(ValueError, match="dtype float64, the cache holds float32"):
        cache.write(0, ok.astype(np.float64), ok)
    with pytest.raises(ValueError, match=r"layer 2 out of range \[0, 2\)"):
        cache.write(2, ok, ok)
    with pytest.raises(ValueError, match=r"layer -1 out of range"):
        cache.keys(-1)
    cache.write(0, ok, ok)
    with pytest.raises(ValueError, match=r"layer 1 has written 0 new positions"):
        cache.advance(1)
    assert cache.length == 0
    cache.write(1, ok, ok)
    cache.advance(1)
    with pytest.raises(ValueError, match="write all layers"):
        cache.advance(1)
    with pytest.raises(ValueError, match="expected 2 keys and values"):
        cache.append([ok], [ok])
    # append validates every layer before copying anything.
    before = cache.written(0)
    with pytest.raises(ValueError, match="layer 1"):
        cache.append([ok + 5, np.zeros((1, 2, 2, 3), np.float32)], [ok, ok])
    assert cache.written(0) == before and cache.length == 1
    with pytest.raises(ValueError, match="cannot keep 2 positions, length is 1"):
        cache.trim(2)
    with pytest.raises(ValueError, match=">= 0"):
        cache.trim(-1)
    with pytest.raises(ValueError, match="dtype"):
        KVCache(1, 1, 1, 4, 2, dtype="int8")
    with pytest.raises(ValueError, match=">= 1"):
        KVCache(1, 1, 0, 4, 2)
    with pytest.raises(ValueError, match=">= 0"):
        KVCache(1, -1, 1, 4, 2)
    with pytest.raises(ValueError, match="overflows"):
        KVCache(2**20, 2**20, 2**20, 2**20, 2**20)


def test_from_spec():
    cache = KVCache.from_spec(SPEC, max_len=100, batch=2)
    assert cache.shape == (3, 2, 2, 2, 100, 8) and cache.dtype == np.float32
    assert cache.nbytes == 3 * 2 * 2 * 2 * 100 * 8 * 4
    assert KVCache.from_spec({"n_layers": 1, "n_kv_heads": 1, "head_dim": 4}, 8).dtype == np.float32
    assert KVCache.from_spec({**SPEC, "dtype": "float16"}, 8).dtype == np.float16
    bad = [
        ([1, 2, 3], "must be a dict"),
        ({"n_layers": 3, "n_kv_heads": 2}, r"missing \['head_dim'\]"),
        ({**SPEC, "n_heads": 4}, r"unknown keys \['n_heads'\]"),
        ({**SPEC, "n_layers": 0}, "n_layers must be a positive integer"),
        ({**SPEC, "head_dim": 64.0}, "head_dim must be a positive integer"),
        ({**SPEC, "n_kv_heads": True}, "n_kv_heads must be a positive integer"),
        ({**SPEC, "n_kv_heads": "2"}, "n_kv_heads must be a positive integer"),
        ({**SPEC, "dtype": "bfloat16"}, "dtype must be one of"),
    ]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            KVCache.from_spec(spec, max_len=8)
    with pytest.raises(ValueError, match="max_len must be a positive integer"):
        KVCache.from_spec(SPEC, max_len=0)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        KVCache.from_spec(SPEC, max_len=8, batch=-1)


def test_grown_keeps_the_committed_positions():
    rng = np.random.default_rng(0)
    cache = KVCache.from_spec(SPEC, max_len=5)
    ks = [rng.standard_normal((1, 2, 5, 8)).astype(np.float32) for _ in range(3)]
    vs = [rng.standard_normal((1, 2, 5, 8)).astype(np.float32) for _ in range(3)]
    cache.append([k[:, :, :4] for k in ks], [v[:, :, :4] for v in vs])
    big = cache.grown(12)
    assert big.capacity == 12 and big.length == 4 and cache.capacity == 5
    for i in range(3):
        np.testing.assert_array_equal(big.keys(i), ks[i][:, :, :4])
        np.testing.assert_array_equal(big.values(i), vs[i][:, :, :4])
        assert not np.shares_memory(big.buffer(i), cache.buffer(i))
    big.append([k[:, :, 4:] for k in ks], [v[:, :, 4:] for v in vs])  # room to go on
    np.testing.assert_array_equal(big.keys(2), ks[2])
    assert KVCache.from_spec(SPEC, max_len=3).grown(3).length == 0
    for bad in (3, 0, 4.0, True):
        with pytest.raises(ValueError, match="capacity must be an integer >= length"):
            cache.grown(bad)


def test_threads_independent_instances():
    """Each thread drives its own cache (copies release the GIL); all match the naive cache."""
    errors = []

    def work(seed):
        try:
            rng = np.random.default_rng(seed)
            cache = KVCache(4, 1, 2, 300, 16)
            naive = NaiveKVCache(4, 1, 2, 300, 16)
            for step in range(60):
                t = int(rng.integers(1, 5))
                kvs = [rand_kv(rng, 1, 2, t, 16, np.float32) for _ in range(4)]
                ks, vs = [k for k, _ in kvs], [v for _, v in kvs]
                cache.append(ks, vs)
                naive.append(ks, vs)
                if step % 17 == 16:
                    cache.trim(cache.length // 2)
                    naive.trim(naive.length // 2)
                for layer in range(4):
                    np.testing.assert_array_equal(cache.contiguous_keys(layer), naive.keys(layer))
                    np.testing.assert_array_equal(cache.values(layer), naive.values(layer))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
