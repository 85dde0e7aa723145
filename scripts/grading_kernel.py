#!/usr/bin/env python
"""The kernel that ``scripts/grade.py`` starts for each submission: limits, confinement, a training cache.

``grade.py`` writes a kernelspec whose command is ``python scripts/grading_kernel.py -f
{connection_file}``; this script then, in this order:

1. sets resource limits on its own process (inherited by whatever it starts):
   ``RLIMIT_DATA`` to ``$GRADER_MEMORY_BYTES`` (the heap and anonymous mappings, so a
   student's huge tensor fails with ``MemoryError``/``RuntimeError`` instead of filling the
   machine; ``RLIMIT_AS`` is not usable: torch's CUDA build maps more address space than
   any sensible limit), ``RLIMIT_FSIZE`` (no file above 2 GB) and no core dumps;
2. confines itself with Landlock (Linux 5.13 and later, no privileges needed) when
   ``$GRADER_WRITABLE`` lists folders: it may then write only inside those folders (the
   run's scratch copy) and ``/dev/shm``; reads stay allowed everywhere. Where the kernel
   supports it, outgoing TCP connections are refused and it cannot send signals to
   processes outside its sandbox (the grader). Where Landlock is missing the grader says
   so and relies on copies alone;
3. imports the course package and, when ``$GRADER_FIT_CACHE`` names a folder, wraps
   ``helpers.fit`` (in every ``helpers`` module that holds it) in :class:`FitCache`;
4. becomes an ordinary ipykernel.

The training cache
------------------
The key of a call to ``fit`` hashes everything the training depends on: the model (its
classes, their code when the notebook defines them, its configuration and its initial
weights), the data its loaders serve (tensors, batch size, samplers and their generators'
states), every other argument (optimizer, learning rate, loss function, callback; a
function defined in a notebook counts by its code and the values it refers to), and the
global random states of torch, NumPy and Python. A hit loads the trained weights (and
gradients), the history, the generators' states and the global random states saved after
the real training; with a callback, the callback is replayed epoch by epoch on the saved
weights of each epoch, with the random states it saw. So the notebook goes on exactly as if
it had trained. Anything the key cannot describe exactly (an unknown object, a hook on the
model, a dataset read lazily from files it does not hold) makes the call train for real.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import inspect
import json
import os
import platform
import random
import resource
import sys
import time
import types
from pathlib import Path

CACHE_FORMAT = 2  # bump when the key or the entries change: old entries are then ignored
MAX_FILE_BYTES = 2 * 2**30

# ----------------------------------------------------------------------------- limits

def set_limits(memory_bytes: int | None) -> None:
    """Limit the data segment (heap and anonymous mappings), file sizes and core dumps of this process."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# ----------------------------------------------------------------------------- Landlock
# Linux's unprivileged sandbox (https://docs.kernel.org/userspace-api/landlock.html).
# The system call numbers are the same on every architecture that has them.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_FS_WRITE_FILE, _FS_REMOVE_DIR, _FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_FS_MAKE = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14            # ABI 2, ABI 3
_NET_CONNECT_TCP = 1 << 1                             # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
_DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/urandom", "/dev/random")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0: none, or not Linux)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64", "riscv64", "loongarch64"):
        return 0
    try:
        version = _libc().syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def confine(writable) -> str:
    """Allow writing only beneath ``writable`` folders (and /dev/shm); refuse outgoing TCP connections
    and signals out of the sandbox where the kernel supports it. Returns what was done, for the log.

    Binding TCP ports stays allowed: the kernel listens on its own ports, and ipykernel opens one
    more, on a port it picks, for the output of subprocesses (which then cannot connect to it: a
    subprocess's printed output is lost; the course's notebooks start none)."""
    abi = landlock_abi()
    if abi < 1:
        return "no confinement: Landlock is not available"
    libc = _libc()
    write = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    if abi >= 2:
        write |= _FS_REFER
    if abi >= 3:
        write |= _FS_TRUNCATE
    attr = _RulesetAttr(handled_access_fs=write)
    size = ctypes.sizeof(ctypes.c_uint64) * 1
    done = ["writes only in the run folder"]
    if abi >= 4:
        attr.handled_access_net = _NET_CONNECT_TCP
        size = ctypes.sizeof(ctypes.c_uint64) * 2
        done.append("no outgoing TCP")
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = ctypes.sizeof(_RulesetAttr)
        done.append("no signals out of the sandbox")
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"no confinement: landlock_create_ruleset failed ({os.strerror(ctypes.get_errno())})"
    try:
        def allow(path: str, access: int) -> None:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                return
            try:
                rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
                if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule({path})")
            finally:
                os.close(fd)

        for folder in writable:
            allow(str(folder), write)
        if os.path.isdir("/dev/shm"):
            allow("/dev/shm", write)
        for device in _DEVICE_FILES:
            if os.path.exists(device):
                allow(device, _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0))
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    except OSError as error:
        return f"no confinement: {error}"
    finally:
        os.close(ruleset)
    return f"Landlock ABI {abi}: " + ", ".join(done)


# ----------------------------------------------------------------------------- fingerprints

class Uncacheable(Exception):
    """Something a training depends on cannot be described exactly: train for real."""


_MAX_DEPTH = 40


def _is_user_code(obj) -> bool:
    """Defined in a notebook (or another ``__main__``), so only its code says what it does."""
    module = getattr(obj, "__module__", None) or ""
    return module in ("__main__", "__mp_main__") or module.startswith("__ipython")


class Fingerprint:
    """A streaming hash of Python objects that changes whenever what a training depends on changes."""

    def __init__(self):
        self.hash = hashlib.blake2b(digest_size=20)
        self._seen: dict[int, int] = {}
        self._keep = []  # objects hashed by id must stay alive while we hash

    def hexdigest(self) -> str:
        return self.hash.hexdigest()

    def _put(self, *parts) -> None:
        for part in parts:
            data = part if isinstance(part, (bytes, bytearray, memoryview)) else str(part).encode()
            self.hash.update(len(data).to_bytes(8, "little"))
            self.hash.update(data)

    def add(self, obj, depth: int = 0) -> None:  # noqa: C901  (one dispatch over the kinds of object)
        import numpy as np
        import torch

        if depth > _MAX_DEPTH:
            raise Uncacheable("an object nested too deeply")
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            self._put(type(obj).__name__, repr(obj))
            return
        if isinstance(obj, (torch.dtype, torch.device, torch.Size, type(Ellipsis), slice, range)):
            self._put(type(obj).__name__, repr(obj))
            return
        if isinstance(obj, np.generic):
            self._put("np", obj.dtype.str, repr(obj.item()))
            return
        key = id(obj)
        if key in self._seen:  # cycles and shared objects: a back-reference
            self._put("ref", self._seen[key])
            return
        self._seen[key] = len(self._seen)
        self._keep.append(obj)
        if isinstance(obj, torch.Tensor):
            self._tensor(obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise Uncacheable("a NumPy array of Python objects")
            self._put("ndarray", obj.dtype.str, obj.shape)
            self.hash.update(memoryview(np.ascontiguousarray(obj)).cast("B"))
        elif isinstance(obj, torch.Generator):
            self._put("generator", obj.device)
            self._tensor(obj.get_state())
        elif isinstance(obj, (list, tuple)):
            self._put(type(obj).__qualname__, len(obj))
            if type(obj) not in (list, tuple):
                self._type(type(obj), depth)
            for item in obj:
                self.add(item, depth + 1)
        elif isinstance(obj, dict):
            self._put(type(obj).__qualname__, len(obj))
            for k, v in obj.items():
                self.add(k, depth + 1)
                self.add(v, depth + 1)
        elif isinstance(obj, (set, frozenset)):
            parts = []
            for item in obj:
                sub = Fingerprint()
                sub.add(item, depth + 1)
                parts.append(sub.hexdigest())
            self._put(type(obj).__name__, *sorted(parts))
        elif isinstance(obj, types.ModuleType):
            self._put("module", obj.__name__)
        elif isinstance(obj, type):
            self._type(obj, depth)
        elif isinstance(obj, functools.partial):
            self._put("partial")
            self.add(obj.func, depth + 1)
            self.add(obj.args, depth + 1)
            self.add(obj.keywords, depth + 1)
        elif isinstance(obj, types.MethodType):
            self._put("method")
            self.add(obj.__func__, depth + 1)
            self.add(obj.__self__, depth + 1)
        elif isinstance(obj, types.FunctionType):
            self._function(obj, depth)
        elif isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType, types.WrapperDescriptorType,
                              types.MethodWrapperType, types.MethodDescriptorType)):
            owner = getattr(obj, "__self__", None)
            self._put("builtin", getattr(obj, "__module__", None), getattr(obj, "__qualname__", repr(obj)))
            if owner is not None and not isinstance(owner, types.ModuleType):
                self.add(owner, depth + 1)
        elif isinstance(obj, torch.nn.Module):
            self._module(obj, depth)
        elif isinstance(obj, types.CodeType):
            self._code(obj)
        elif type(obj).__module__.startswith("pandas.") and type(obj).__name__ in ("DataFrame", "Series"):
            import pandas as pd

            self._put(type(obj).__name__, list(map(str, getattr(obj, "columns", [obj.name]))),
                      list(map(str, getattr(obj, "dtypes", [obj.dtype]))))
            self.add(pd.util.hash_pandas_object(obj, index=True).to_numpy(), depth + 1)
        else:
            self._object(obj, depth)

    def _tensor(self, t) -> None:
        import torch

        if t.layout != torch.strided or t.is_quantized:
            raise Uncacheable("a sparse or quantized tensor")
        t = t.detach()
        channels_last = t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()
        self._put("tensor", t.dtype, tuple(t.shape), t.device.type, t.requires_grad, channels_last)
        flat = t.cpu().contiguous().reshape(-1)
        if flat.numel():
            self.hash.update(memoryview(flat.view(torch.uint8).numpy()).cast("B"))

    def _code(self, code) -> None:
        self._put("code", code.co_name, code.co_code, code.co_names, code.co_varnames, code.co_freevars,
                  code.co_cellvars, code.co_argcount, code.co_kwonlyargcount, code.co_flags)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                self._code(const)
            else:
                self._put(type(const).__name__, repr(const))

    @staticmethod
    def _global_names(code) -> list[str]:
        names = list(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names += Fingerprint._global_names(const)
        return list(dict.fromkeys(names))

    def _function(self, fn, depth: int) -> None:
        if not _is_user_code(fn) and "<locals>" not in fn.__qualname__ and "<lambda>" not in fn.__qualname__:
            # a library function: its name says what it does (the library's version is in the cache's name)
            self._put("function", fn.__module__, fn.__qualname__)
            return
        self._put("user function", fn.__module__, fn.__qualname__)
        self._code(fn.__code__)
        self.add(fn.__defaults__, depth + 1)
        self.add(fn.__kwdefaults__, depth + 1)
        for cell in fn.__closure__ or ():
            try:
                self.add(cell.cell_contents, depth + 1)
            except ValueError:  # an empty cell
                self._put("empty cell")
        # the globals it refers to: their values as they are now
        for name in self._global_names(fn.__code__):
            if name in fn.__globals__:
                value = fn.__globals__[name]
                self._put("global", name)
                self.add(value, depth + 1)

    def _type(self, cls, depth: int) -> None:
        self._put("type", cls.__module__, cls.__qualname__)
        if _is_user_code(cls):
            for base in cls.__mro__[1:]:
                self._put("base", base.__module__, base.__qualname__)
            for name, value in sorted(vars(cls).items(), key=lambda item: item[0]):
                if name in ("__dict__", "__weakref__", "__module__", "__doc__", "__qualname__"):
                    continue
                self._put("attr", name)
                self.add(value, depth + 1)

    def _module(self, module, depth: int) -> None:
        import torch

        hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
        glob = torch.nn.modules.module
        if any(getattr(glob, name, None) for name in ("_global_forward_hooks", "_global_forward_pre_hooks",
                                                         "_global_backward_hooks")):
            raise Uncacheable("a global module hook")
        for name, sub in module.named_modules():
            if any(getattr(sub, hook, None) for hook in hooks):
                raise Uncacheable(f"a hook on {type(sub).__name__}")
            self._put("submodule", name, sub.training)
            self._type(type(sub), depth + 1)
            public = {k: v for k, v in vars(sub).items() if not k.startswith("_") and k != "training"}
            self.add(public, depth + 1)
        for name, value in module.state_dict(keep_vars=True).items():
            self._put("state", name)
            self._tensor(value) if isinstance(value, torch.Tensor) else self.add(value, depth + 1)
        for name, buffer in module.named_buffers():  # non-persistent buffers too
            self._put("buffer", name)
            self._tensor(buffer)

    def _object(self, obj, depth: int) -> None:
        cls = type(obj)
        if not hasattr(obj, "__dict__") and not hasattr(cls, "__slots__"):
            raise Uncacheable(f"an object of type {cls.__module__}.{cls.__qualname__}")
        if hasattr(cls, "__getitem__") and hasattr(cls, "__len__") and not hasattr(obj, "__dict__"):
            raise Uncacheable(f"an object of type {cls.__qualname__}")
        self._type(cls, depth + 1)
        state = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
        for slot_owner in cls.__mro__:
            for slot in getattr(slot_owner, "__slots__", ()):
                if isinstance(slot, str) and hasattr(obj, slot) and slot not in state:
                    state[slot] = getattr(obj, slot)
        for name in ("root", "path", "filename", "file", "files", "paths"):
            if isinstance(state.get(name), (str, os.PathLike)) and not _holds_data(state):
                raise Uncacheable(f"a {cls.__qualname__} that reads from files")
        for name, value in sorted(state.items(), key=lambda item: item[0]):
            if name.startswith("_DataLoader__initialized") or name == "_iterator" and value is None:
                continue
            self._put("field", name)
            self.add(value, depth + 1)


def _holds_data(state: dict) -> bool:
    """A dataset that names a folder may still hold its data in memory (torchvision's MNIST does)."""
    import numpy as np
    import torch

    return any(isinstance(value, (torch.Tensor, np.ndarray)) for value in state.values())


def _generators(loaders) -> list:
    """The torch.Generator objects of some DataLoaders and their samplers, in a fixed order."""
    import torch

    found, seen = [], set()

    def visit(obj, depth=0):
        if obj is None or depth > 4:
            return
        if isinstance(obj, torch.Generator):
            if id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
            return
        for name in ("generator", "sampler", "batch_sampler"):
            visit(getattr(obj, name, None), depth + 1)

    for loader in loaders:
        visit(loader)
    return found


def _random_states() -> dict:
    import numpy as np
    import torch

    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_random_states(states: dict) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _cpu_state(model) -> dict:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


# ----------------------------------------------------------------------------- the cache

class FitCache:
    """Wraps ``fit``: a call whose key is in one of ``folders`` is replayed, any other trains and is
    stored in the first folder (a student's run stores into its scratch folder and reads the shared one).

    ``log`` (a path) gets one JSON line per call: ``{"event": "hit"|"miss"|"bypass", ...}``.
    """

    IGNORED = ("progress",)  # arguments that change what is printed, not what is trained

    def __init__(self, fit, folders, log=None, namespace: str = ""):
        self.fit = fit
        self.folders = [Path(f) / namespace for f in ([folders] if isinstance(folders, (str, Path)) else folders)]
        self.folder = self.folders[0]
        self.log = Path(log) if log else None
        self.namespace = namespace
        self.signature = inspect.signature(fit)

        @functools.wraps(fit)
        def cached_fit(*args, **kwargs):
            return self(*args, **kwargs)

        cached_fit.__grader_cache__ = self
        self.wrapper = cached_fit

    # -- bookkeeping
    def _note(self, **entry) -> None:
        if self.log is None:
            return
        try:
            with open(self.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
        except OSError:
            pass

    def key(self, bound) -> str:
        """The key of a call (``bound``: its ``inspect.BoundArguments``, defaults applied)."""
        return self.key_parts(bound)[0]

    def key_parts(self, bound) -> tuple[str, dict]:
        """The key, and a short digest of each thing it hashes (to tell why two calls differ)."""
        parts = {}
        values = [(name, value) for name, value in bound.arguments.items() if name not in self.IGNORED]
        for name, value in values + [(f"random {k}", v) for k, v in _random_states().items()]:
            fp = Fingerprint()
            fp.add(value)
            parts[name] = fp.hexdigest()
        key = Fingerprint()
        key._put("fit cache", CACHE_FORMAT, self.namespace, self.fit.__module__, self.fit.__qualname__)
        for name, digest in parts.items():
            key._put(name, digest)
        return key.hexdigest(), {name: digest[:8] for name, digest in parts.items()}

    def __call__(self, *args, **kwargs):
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return self.fit(*args, **kwargs)  # let fit say what is wrong with the call
        bound.apply_defaults()
        arguments = bound.arguments
        model = arguments.get("model")
        loaders = [arguments.get("train_loader"), arguments.get("valid_loader")]
        start = time.perf_counter()
        try:
            key, parts = self.key_parts(bound)
        except Exception as error:  # Uncacheable, or an object that would not even be looked at
            reason = str(error) if isinstance(error, Uncacheable) else f"{type(error).__name__}: {error}"
            self._note(event="bypass", model=type(model).__name__, reason=reason)
            print(f"[grader] training {type(model).__name__} for real: not cached ({reason})")
            return self.fit(*args, **kwargs)
        key_seconds = time.perf_counter() - start
        for folder in self.folders:
            path = folder / f"{key}.pt"
            if not path.exists():
                continue
            try:
                history = self._replay(path, model, loaders, arguments.get("callback"))
            except Exception as error:  # a broken entry: train instead
                self._note(event="broken", key=key, error=f"{type(error).__name__}: {error}")
                break
            self._note(event="hit", key=key, model=type(model).__name__,
                       seconds=round(time.perf_counter() - start, 3), key_seconds=round(key_seconds, 3))
            print(f"[grader] {type(model).__name__}: {len(history)} epoch(s) of training replayed from the cache")
            return history
        return self._train_and_store(self.folder / f"{key}.pt", key, bound, model, loaders, start, parts)

    def _train_and_store(self, path, key, bound, model, loaders, start, parts=None):
        import torch

        epochs = []
        callback = bound.arguments.get("callback")
        if callback is not None:
            def recording_callback(model_, row):
                record = {"row": dict(row), "training": model_.training, "random": _random_states(),
                          "state": _cpu_state(model_)}
                stop = callback(model_, row)
                record["stop"] = bool(stop)
                epochs.append(record)
                return stop

            bound.arguments["callback"] = recording_callback
        history = self.fit(*bound.args, **bound.kwargs)
        train_seconds = time.perf_counter() - start
        entry = {
            "format": CACHE_FORMAT,
            "state": _cpu_state(model),
            "grads": {name: None if p.grad is None else p.grad.detach().cpu().clone()
                      for name, p in model.named_parameters()},
            "training": model.training,
            "history": history,
            "random": _random_states(),
            "generators": [g.get_state() for g in _generators(loaders)],
            "epochs": epochs if callback is not None else None,
            "seconds": train_seconds,
        }
        stored = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            torch.save(entry, tmp)
            os.replace(tmp, path)
            stored = True
        except Exception:  # a read-only or full cache: the training still counts
            pass
        self._note(event="miss", key=key, model=type(model).__name__, seconds=round(train_seconds, 3),
                   stored=stored, parts=parts)
        print(f"[grader] {type(model).__name__}: trained ({train_seconds:.0f} s), not found in the cache; key "
              f"{key[:8]} = " + ", ".join(f"{name} {digest}" for name, digest in (parts or {}).items()))
        return history

    def _replay(self, path, model, loaders, callback):
        import pandas as pd
        import torch

        entry = torch.load(path, map_location="cpu", weights_only=False)
        if entry.get("format") != CACHE_FORMAT:
            raise ValueError("an entry of another format")
        generators = _generators(loaders)
        if len(generators) != len(entry["generators"]):
            raise ValueError("the loaders' generators do not match the entry")
        history = entry["history"]
        if entry["epochs"] is not None:
            if callback is None:
                raise ValueError("an entry recorded with a callback")
            rows = []
            for record in entry["epochs"]:
                model.load_state_dict(record["state"])
                model.train(record["training"])
                _set_random_states(record["random"])
                row = dict(record["row"])
                callback(model, row)
                rows.append(row)
            history = pd.DataFrame(rows)
            history.attrs.update(entry["history"].attrs)
        elif callback is not None:
            raise ValueError("an entry recorded without a callback")
        else:
            history = history.copy()
        model.load_state_dict(entry["state"])
        for name, p in model.named_parameters():
            grad = entry["grads"].get(name)
            p.grad = None if grad is None else grad.to(p.device)
        model.train(entry["training"])
        for generator, state in zip(generators, entry["generators"]):
            generator.set_state(state)
        _set_random_states(entry["random"])
        return history


def source_digest(package_dir) -> str:
    """A digest of a package's Python sources, the versions of torch and Python, and CACHE_FORMAT:
    the cache's namespace (a change of ``helpers`` starts a new cache)."""
    import torch

    digest = hashlib.blake2b(digest_size=10)
    digest.update(f"{CACHE_FORMAT} {torch.__version__} {sys.version_info[:2]}".encode())
    for path in sorted(Path(package_dir).rglob("*.py")):
        digest.update(path.relative_to(package_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def install_fit_cache(folders, log=None) -> FitCache | None:
    """Wrap ``fit`` in every imported ``helpers`` module that holds it; returns the cache (None without helpers)."""
    try:
        import helpers
        import helpers.training
    except ImportError:
        return None
    original = helpers.training.fit
    if hasattr(original, "__grader_cache__"):
        return original.__grader_cache__
    cache = FitCache(original, folders, log, namespace=source_digest(Path(helpers.__file__).parent))
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "helpers" or name.startswith("helpers.")):
            for attr, value in list(vars(module).items()):
                if value is original:
                    setattr(module, attr, cache.wrapper)
    return cache


# ----------------------------------------------------------------------------- main

def start_in_kernel() -> None:
    """Run inside the kernel, once, before the first cell (``IPKernelApp.exec_lines``): the training cache."""
    settings = _SETTINGS
    notes = list(settings["notes"])
    if settings["cache"]:
        folders = [p for p in settings["cache"].split(os.pathsep) if p]
        cache = install_fit_cache(folders, settings["log"])
        notes.append("training cache on" if cache else "no training cache (helpers is not importable)")
    if settings["log"]:
        try:
            with open(settings["log"], "a", encoding="utf-8") as f:
                f.write(json.dumps({"event": "kernel", "notes": notes}) + "\n")
        except OSError:
            pass


_SETTINGS: dict = {}


def main() -> None:
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    memory = int(os.environ.pop("GRADER_MEMORY_BYTES", "0") or 0)
    writable = [p for p in os.environ.pop("GRADER_WRITABLE", "").split(os.pathsep) if p]
    _SETTINGS.update(cache=os.environ.pop("GRADER_FIT_CACHE", ""), log=os.environ.pop("GRADER_FIT_LOG", ""))
    kernel_log = os.environ.pop("GRADER_KERNEL_LOG", "")
    if kernel_log:  # the kernel's own messages (not the cells' output) go to the run's log, not the grader's terminal
        fd = os.open(kernel_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    set_limits(memory or None)
    notes = [f"memory limit {memory / 2**30:.1f} GB" if memory else "no memory limit"]
    if writable:
        notes.append(confine(writable))
    _SETTINGS["notes"] = notes
    # IPython makes its own __main__ for the notebook: keep this module reachable under another name.
    sys.modules["_grading_kernel"] = sys.modules[__name__]
    sys.argv += ["--IPKernelApp.exec_lines=import _grading_kernel; _grading_kernel.start_in_kernel(); "
                 "del _grading_kernel"]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
