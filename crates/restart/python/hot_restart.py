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
import logging
import os
import sys
import threading
import types

# The hot-restart release whose API and messages this module follows.
__version__ = "0.2.4"

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
    "setup_logger",
]

PROGRAM_SHOULD_EXIT = False
PRINT_HELP_MESSAGE = True
# Accepted for compatibility: under jurigged the code that runs is always the saved code.
RELOAD_ON_CONTINUE = True
# `c` applies every saved change either way; this only chooses the message.
RELOAD_ALL_ON_CONTINUE = False


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (the develoop may have replaced it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logger():
    """The ``hot-restart`` logger, printing ``LEVEL (hot-restart): message`` on stderr.
    Silence or redirect it with ``logging``; calling this again adds no second handler."""
    logger = logging.getLogger("hot-restart")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s (%(name)s): %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
    return logger


_LOGGER = setup_logger()

_DEBUGGERS = ("pdb", "ipdb", "pudb", "pydevd")


def _default_debugger():
    """HOT_RESTART_DEBUGGER, else the debugger PYTHONBREAKPOINT names (``0``: none, the
    error goes on up), else pydevd or pudb if the program imported it, else ipdb if it is
    installed, else pdb."""
    choice = os.environ.get("HOT_RESTART_DEBUGGER", "").strip().lower()
    if choice == "debugpy":
        choice = "pydevd"
    if choice in _DEBUGGERS:
        return choice
    if choice:
        raise ValueError(
            f"Unsupported HOT_RESTART_DEBUGGER {choice!r}: use pdb, ipdb, pudb or pydevd (debugpy)"
        )
    hook = os.environ.get("PYTHONBREAKPOINT", "").strip()
    if hook == "0":
        return None
    named = hook.split(".")[0].lower()
    if named in _DEBUGGERS:
        return named
    if "pydevd" in sys.modules:
        return "pydevd"
    if "pudb" in sys.modules:
        return "pudb"
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
    """Open the debugger when ``func`` raises; ``c`` runs it again with the same arguments.

    A function that cannot be revived from its file (a lambda, code with no source file)
    is returned unwrapped, with an error logged; anything but a Python function or method
    raises TypeError."""
    if func is None:
        return functools.partial(
            wrap,
            propagated_exceptions=propagated_exceptions,
            propagate_keyboard_interrupt=propagate_keyboard_interrupt,
        )
    return _wrap(func, propagated_exceptions, quiet=False)


def _wrap(func, propagated_exceptions=(StopIteration,), quiet=True):
    """``wrap``; ``quiet``: a function that cannot be revived is left alone silently (the
    implicit wraps of wrap_module and wrap_class, as in hot-restart)."""
    if isinstance(func, type):
        return wrap_class(func)
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(_wrap(func.__func__, propagated_exceptions, quiet))
    if getattr(func, "_hot_restart_already_wrapped", False):
        return func
    try:
        problem = _why_not_revivable(func)
    except TypeError:
        if quiet:
            return func
        raise
    if problem is not None:
        if not quiet:
            _LOGGER.error(f"Could not wrap {func!r}: {problem}")
        return func
    filename = _code_of(func).co_filename
    import jurigged

    # Its saves must reach the program, wherever the file lives.
    jurigged._watch_file(filename)
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


def _why_not_revivable(func):
    """Why ``func`` cannot be revived from its file, or None. TypeError for what is not
    Python code at all (``wrap(print)``)."""
    target = func.__func__ if isinstance(func, types.MethodType) else func
    if not inspect.isfunction(target):
        raise TypeError(
            f"hot_restart.wrap: {func!r} is not a Python function or method, so it cannot be revived"
        )
    code = _code_of(target)
    if code.co_name == "<lambda>":
        return "Could not find <lambda> in its source file"
    if code.co_filename.startswith("<"):
        return f"{func!r} was generated and has no source"
    if not os.path.isfile(code.co_filename):
        return f"could not get source: no file {code.co_filename}"
    return None


def _code_of(func):
    """The code of the function ``func`` decorates (or its own)."""
    return getattr(inspect.unwrap(func), "__code__", None) or func.__code__


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
                _LOGGER.warning(f"Re-raising {error!r}")
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
                _LOGGER.warning(f"Re-raising {error!r}")
                raise

    return wrapper


def _revive(key, error, func):
    """The debugger on ``error``. True: run again (the saved changes are applied); False:
    re-raise."""
    action = "reraise" if PROGRAM_SHOULD_EXIT else _post_mortem(key, error, func=func)
    if action != "continue" or PROGRAM_SHOULD_EXIT:
        _LOGGER.warning(f"Re-raising {error!r}")
        return False
    if RELOAD_ALL_ON_CONTINUE:
        print("> Reloaded all wrapped functions and classes", flush=True)
    else:
        print(f"> Reloaded {func!r}", flush=True)
    return True


def _apply_for_revival(func):
    """Applies every saved change. False, with the reason logged, when a file's saved
    version cannot run (it does not parse, or a statement of it failed): the debugger
    stays open for another fix."""
    import jurigged

    failed = jurigged._apply_saved_changes()
    if not failed:
        return True
    own = _code_of(func).co_filename
    for filename in failed:
        try:
            with open(filename, "rb") as file:
                compile(file.read(), filename, "exec")
        except SyntaxError as error:
            if filename == own:
                _LOGGER.error(f"Could not parse source for {func!r}: {error!r}")
            else:
                _LOGGER.error(f"Could not parse source of {filename}: {error!r}")
            continue
        except (OSError, ValueError):
            pass
        _LOGGER.error(f"Could not apply the saved version of {filename} (see above)")
    print("> Save a fix and (c)ontinue again, or Ctrl-C to re-raise", flush=True)
    return False


def _post_mortem(key, error, note=None, func=None):
    """Opens the debugger on ``error`` with the live callers above the crash. Returns
    "continue" (for ``func``, once the saved changes are applied), or "reraise" (Ctrl-C,
    q, reraise(), exit())."""
    global PRINT_HELP_MESSAGE
    debugger_name = DEBUGGER
    if debugger_name is None:
        # PYTHONBREAKPOINT=0: no debugging.
        return "reraise"
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
    if debugger_name in ("pudb", "pydevd"):
        left = _foreign_post_mortem(debugger_name, key, error, traceback)
        if left == "continue" and func is not None:
            while not _apply_for_revival(func):
                left = _foreign_post_mortem(debugger_name, key, error, traceback)
                if left != "continue":
                    break
        return left
    debugger = _debugger(debugger_name, start, func)
    try:
        debugger.reset()
        if debugger_name == "pdb":
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


def _foreign_post_mortem(name, key, error, traceback):
    """pudb, or the IDE's debugger (pydevd, debugpy): leaving it continues, unless
    ``hot_restart.reraise()`` or ``exit()`` was called meanwhile."""
    if name == "pudb":
        import pudb

        pudb.post_mortem(traceback, type(error), error)
    else:
        print(f"hot-restart: Continue to revive {key}", file=sys.stderr)
        print(
            "hot-restart: call hot_restart.reraise() and continue to continue raising exception",
            file=sys.stderr,
        )
        try:
            import pydevd

            py_db = pydevd.get_global_debugger()
        except ImportError:
            py_db = None
        if py_db is None:
            _LOGGER.warning("pydevd is not running: using pdb")
            return _post_mortem_with("pdb", key, error, traceback)
        thread = threading.current_thread()
        info = py_db.set_additional_thread_info(thread)
        info.is_tracing += 1
        try:
            py_db.stop_on_unhandled_exception(
                py_db, thread, info, (type(error), error, traceback)
            )
        finally:
            info.is_tracing -= 1
    if PROGRAM_SHOULD_EXIT or getattr(_state, "reraise", False):
        return "reraise"
    return "continue"


def _post_mortem_with(name, key, error, traceback):
    debugger = _debugger(name, 0, None)
    try:
        debugger.reset()
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


def _debugger(name, start, func):
    """A pdb (or ipdb) opening at stack index ``start``; ``c`` applies the saved changes
    for ``func`` first and stays at the prompt if they cannot run."""
    if name == "ipdb":
        try:
            from IPython.terminal.debugger import TerminalPdb as Base
        except ImportError:
            _LOGGER.warning("ipdb is not installed: using pdb")
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

        def do_continue(self, arg):
            reviving = func is not None and not PROGRAM_SHOULD_EXIT
            if reviving and not getattr(_state, "reraise", False):
                if not _apply_for_revival(func):
                    return 0
            return super().do_continue(arg)

        do_c = do_cont = do_continue

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
            setattr(cls, name, _wrap(value))
        elif inspect.isfunction(value):
            setattr(cls, name, _wrap(value))
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
    filename = getattr(module, "__file__", None)
    if filename and filename.endswith(".py"):
        import jurigged

        jurigged._watch_file(filename)
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
            bind(key, _wrap(value))


def wrap_modules(pattern):
    """wrap_module for every loaded module (with a file) whose name matches ``pattern``."""
    for name, module in list(sys.modules.items()):
        if fnmatch.fnmatch(name, pattern) and getattr(module, "__file__", None):
            try:
                wrap_module(module)
            except Exception as error:  # noqa: BLE001
                _LOGGER.warning(f"Failed to wrap module {name!r}: {error}")


def _wrap_value(module_name, value):
    """For ``--restart``: the wrapped version of a value bound at a module's top level."""
    if getattr(value, "_hot_restart_no_wrap", False) or getattr(
        value, "_hot_restart_already_wrapped", False
    ):
        return value
    if isinstance(value, type) and value.__module__ == module_name:
        return wrap_class(value)
    if inspect.isfunction(value) and value.__module__ == module_name:
        return _wrap(value)
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


def _rewrapped(holder, name, module_name, value):
    """What to bind for a definition a save adds to a wrapped module or class: ``value``
    wrapped, unless it is not to be."""
    if getattr(value, "_hot_restart_no_wrap", False):
        return value
    if isinstance(holder, type):
        if name in _SKIPPED_METHODS:
            return value
        if isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
            return _wrap(value)
        return value
    return _wrap_value(module_name, value)
