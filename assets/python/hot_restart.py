"""hot_restart, built into jurigged.

Wrap functions; when one raises, a debugger opens at the crash with the live callers above
it. Fix the file, type ``c``: jurigged has applied every change already (not only to that
function), and the function runs again with the same arguments, its result going to the
live caller. This is hot-restart 0.2's API and flow, on jurigged's live patching.
"""

import fnmatch
import functools
import importlib.util
import inspect
import os
import sys
import threading
import types

__all__ = [
    "wrap",
    "no_wrap",
    "ignore",
    "wrap_module",
    "wrap_modules",
    "wrap_class",
    "exit",
    "reraise",
    "ReloadException",
    "restart_module",
    "reload_module",
    "is_restarting_module",
]

PROGRAM_SHOULD_EXIT = False
PRINT_HELP_MESSAGE = True
# Accepted for compatibility: under jurigged the code that runs is always the saved code.
RELOAD_ON_CONTINUE = True
RELOAD_ALL_ON_CONTINUE = True


def _default_debugger():
    choice = os.environ.get("HOT_RESTART_DEBUGGER", "").strip().lower()
    if choice in ("pdb", "ipdb"):
        return choice
    if choice:
        raise ValueError(
            f"HOT_RESTART_DEBUGGER={choice!r}: jurigged's hot_restart supports 'pdb' and 'ipdb'"
        )
    return "ipdb" if importlib.util.find_spec("ipdb") is not None else "pdb"


DEBUGGER = _default_debugger()

_state = threading.local()
_WRAPPER_CODES = set()
_SKIPPED_METHODS = {
    "__new__",
    "__init_subclass__",
    "__class_getitem__",
    "__getattribute__",
    "__getattr__",
    "__setattr__",
    "__delattr__",
    "__repr__",
    "__del__",
}


class ReloadException(ValueError):
    """Kept for compatibility: jurigged never needs to reload a function by hand."""


def exit():
    """After the debugger is left, end the program with the original error."""
    global PROGRAM_SHOULD_EXIT
    PROGRAM_SHOULD_EXIT = True


def reraise():
    """After the debugger is left, hand the error to the next wrapped caller."""
    _state.reraise = True


def reload_module(module=None):
    """Apply every saved change now (jurigged applies them on save anyway)."""
    import jurigged

    jurigged._apply_saved_changes()


restart_module = reload_module


def is_restarting_module():
    """Always False: jurigged never runs a module a second time."""
    return False


def no_wrap(obj):
    """Leave this object alone in wrap_module and wrap_class."""
    if obj is not None:
        try:
            obj._hot_restart_no_wrap = True
        except AttributeError:
            pass
    return obj


ignore = no_wrap


def _key(func):
    qualname = getattr(func, "__qualname__", getattr(func, "__name__", "?"))
    return f"{getattr(func, '__module__', '?')}.{qualname.replace('.<locals>', '')}"


def wrap(func=None, *, propagated_exceptions=(StopIteration,), propagate_keyboard_interrupt=True):
    """Open the debugger when ``func`` raises; ``c`` runs it again with the same arguments."""
    if func is None:
        return functools.partial(
            wrap,
            propagated_exceptions=propagated_exceptions,
            propagate_keyboard_interrupt=propagate_keyboard_interrupt,
        )
    if isinstance(func, type):
        return wrap_class(func)
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(wrap(func.__func__, propagated_exceptions=propagated_exceptions))
    if getattr(func, "_hot_restart_already_wrapped", False):
        return func
    key = _key(func)
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        wrapper = _wrap_generator(func, key, propagated_exceptions)
    elif inspect.iscoroutinefunction(func):
        wrapper = _wrap_coroutine(func, key, propagated_exceptions)
    else:

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            while True:
                try:
                    return func(*args, **kwargs)
                except propagated_exceptions:
                    raise
                except Exception as error:
                    if not _revive(key, error, func):
                        raise

    _WRAPPER_CODES.add(wrapper.__code__)
    wrapper._hot_restart_already_wrapped = True
    return wrapper


def _wrap_coroutine(func, key, propagated_exceptions):
    @functools.wraps(func)
    async def wrapper(*args, **kwargs):
        while True:
            try:
                return await func(*args, **kwargs)
            except propagated_exceptions:
                raise
            except Exception as error:
                if not _revive(key, error, func):
                    raise

    return wrapper


def _wrap_generator(func, key, propagated_exceptions):
    # A generator cannot be run again from where it failed: what it yielded is gone. The
    # debugger opens on the error and says so; leaving it re-raises.
    note = f"> {key} is a generator: it cannot be revived; leaving the debugger re-raises"
    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def wrapper(*args, **kwargs):
            try:
                async for item in func(*args, **kwargs):
                    yield item
            except propagated_exceptions:
                raise
            except Exception as error:
                _post_mortem(key, error, note=note)
                raise

    else:

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return (yield from func(*args, **kwargs))
            except propagated_exceptions:
                raise
            except Exception as error:
                _post_mortem(key, error, note=note)
                raise

    return wrapper


def _revive(key, error, func):
    """The debugger on ``error``. True: run again; False: re-raise."""
    if PROGRAM_SHOULD_EXIT:
        return False
    action = _post_mortem(key, error)
    if action != "continue" or PROGRAM_SHOULD_EXIT:
        return False
    import jurigged

    jurigged._apply_saved_changes()
    print(f"> Reloaded {func!r}", flush=True)
    return True


def _post_mortem(key, error, note=None):
    """Opens the debugger on ``error`` with the live callers above the crash. Returns
    "continue", or "reraise" (Ctrl-C, q, reraise(), exit())."""
    global PRINT_HELP_MESSAGE
    lines = [">", f"> {key}: {error!r}"]
    if note:
        lines.append(note)
    else:
        lines.append(f"> (c)ontinue to revive {key}")
    if PRINT_HELP_MESSAGE:
        PRINT_HELP_MESSAGE = False
        lines += [
            "> Ctrl-C to re-raise exception",
            "> (q)uit to exit program",
            "> hot_restart.exit() then (c)ontinue to end the program",
        ]
    lines.append(">")
    print("\n".join(lines), flush=True)
    traceback, start = _live_traceback(error.__traceback__)
    _state.reraise = False
    debugger = _debugger(start)
    try:
        debugger.reset()
        if DEBUGGER == "pdb":
            # ipdb shows the code around the line by itself.
            debugger.cmdqueue.append("l")
        debugger.interaction(None, traceback)
    except KeyboardInterrupt:
        return "reraise"
    finally:
        sys.settrace(None)
    if debugger.quitting or getattr(_state, "reraise", False):
        return "reraise"
    return "continue"


def post_mortem(error):
    """The debugger on an error caught elsewhere (the develoop's ``d``); "continue" or
    "reraise" as the user left it."""
    traceback = error.__traceback__
    frame = traceback.tb_frame if traceback is not None else None
    name = frame.f_code.co_name if frame is not None else "?"
    module = frame.f_globals.get("__name__", "?") if frame is not None else "?"
    return _post_mortem(f"{module}.{name}", error, note=f"> leaving the debugger goes back to the loop")


def _live_traceback(traceback):
    """The error's frames below the wrapper, with the live callers of the wrapper above
    them (wrapper frames left out), and the index of the wrapped function's frame."""
    dead = traceback
    caller = None
    if traceback is not None and traceback.tb_frame.f_code in _WRAPPER_CODES:
        caller = traceback.tb_frame.f_back
        dead = traceback.tb_next
    elif traceback is not None:
        caller = None
    live = []
    frame = caller
    while frame is not None:
        if frame.f_code not in _WRAPPER_CODES:
            live.append(frame)
        frame = frame.f_back
    head = dead
    for frame in live:
        head = types.TracebackType(head, frame, frame.f_lasti, frame.f_lineno)
    return head, len(live)


def _debugger(start):
    if DEBUGGER == "ipdb":
        try:
            from IPython.terminal.debugger import TerminalPdb as Base
        except ImportError:
            print("> ipdb is not installed: using pdb", flush=True)
            import pdb

            Base = pdb.Pdb
    else:
        import pdb

        Base = pdb.Pdb

    class HotRestartPdb(Base):
        def setup(self, frame, traceback):
            result = super().setup(frame, traceback)
            # Open in the wrapped function's frame; `u` shows its live callers.
            if 0 <= start < len(self.stack):
                self.curindex = start
                self.curframe = self.stack[start][0]
                try:
                    self.curframe_locals = self.curframe.f_locals
                except AttributeError:
                    pass
            return result

        def _cmdloop(self):
            # Ctrl-C at the prompt leaves the debugger: the error goes to the next caller.
            self.allow_kbdint = True
            self.cmdloop()
            self.allow_kbdint = False

    return HotRestartPdb()


def wrap_class(cls):
    """Wraps every method of ``cls`` (static and class methods too); returns ``cls``."""
    cls.__hot_restart_wrapped__ = True
    for name, value in list(vars(cls).items()):
        if name in _SKIPPED_METHODS or getattr(value, "_hot_restart_no_wrap", False):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            inner = value.__func__
            if getattr(inner, "_hot_restart_no_wrap", False):
                continue
            setattr(cls, name, type(value)(wrap(inner)))
        elif inspect.isfunction(value):
            setattr(cls, name, wrap(value))
    return cls


def wrap_module(module_or_name=None):
    """Wraps the functions and classes a module defines (call it at the module's end)."""
    if module_or_name is None:
        name = sys._getframe(1).f_globals["__name__"]
        module = sys.modules[name]
    elif isinstance(module_or_name, str):
        module = sys.modules[module_or_name]
    else:
        module = module_or_name
    module.__hot_restart_wrapped__ = True
    _wrap_namespace(vars(module), module.__name__, lambda key, value: setattr(module, key, value))
    return module


def _wrap_namespace(namespace, module_name, bind):
    for key, value in list(namespace.items()):
        if getattr(value, "_hot_restart_no_wrap", False):
            continue
        if getattr(value, "_hot_restart_already_wrapped", False):
            continue
        if isinstance(value, type) and value.__module__ == module_name:
            wrap_class(value)
        elif inspect.isfunction(value) and value.__module__ == module_name:
            bind(key, wrap(value))


def wrap_modules(pattern):
    """wrap_module for every loaded module (with a file) whose name matches ``pattern``."""
    for name, module in list(sys.modules.items()):
        if fnmatch.fnmatch(name, pattern) and getattr(module, "__file__", None):
            try:
                wrap_module(module)
            except Exception as error:  # noqa: BLE001
                print(f"> hot_restart: could not wrap {name}: {error!r}", file=sys.stderr)


def _wrap_value(module_name, value):
    """For ``--restart``: the wrapped version of a value bound at a module's top level."""
    if getattr(value, "_hot_restart_no_wrap", False) or getattr(
        value, "_hot_restart_already_wrapped", False
    ):
        return value
    if isinstance(value, type) and value.__module__ == module_name:
        return wrap_class(value)
    if inspect.isfunction(value) and value.__module__ == module_name:
        return wrap(value)
    return value


class _RestartFinder:
    """For ``--restart``: wraps matching watched modules once they are imported."""

    def __init__(self, patterns):
        self.patterns = patterns

    def find_spec(self, name, path=None, target=None):
        if not any(fnmatch.fnmatch(name, pattern) for pattern in self.patterns):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module") or not spec.origin:
            return spec
        import jurigged

        if not jurigged._is_watched(spec.origin):
            return spec
        original = loader.exec_module

        def exec_module(module):
            original(module)
            wrap_module(module)

        loader.exec_module = exec_module
        return spec


def _restart_modules(patterns):
    import jurigged

    for pattern in patterns:
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None)
            if name != "__main__" and origin and fnmatch.fnmatch(name, pattern):
                if jurigged._is_watched(origin):
                    wrap_module(module)
    sys.meta_path.insert(0, _RestartFinder(list(patterns)))


def _rewrap(holder, name, module_name):
    """A definition a save added to a wrapped module or class is wrapped too."""
    value = vars(holder).get(name)
    if value is None or getattr(value, "_hot_restart_no_wrap", False):
        return
    if isinstance(holder, type):
        if name in _SKIPPED_METHODS:
            return
        if isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
            setattr(holder, name, wrap(value))
    else:
        wrapped = _wrap_value(module_name, value)
        if wrapped is not value:
            setattr(holder, name, wrapped)
