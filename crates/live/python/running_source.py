"""Source lines for frames still running code that a save replaced.

A save changes the file and linecache, but a call already running (the script's own
top-level loop, a long function) goes on with the code it started with, at that code's line
numbers. Tracebacks, pdb and inspect look lines up by file name and line number alone, so
they would quote the new file at old line numbers. jurigged remembers, for each code object
running when a save lands, the source it was compiled from; lookups made for a frame (or
code, function, traceback) running such code get that source.

Loaded by jurigged at the first save that finds such a frame; nothing here runs before.
"""

import sys
import threading
import weakref

# id(code) -> the lines of the version it was compiled from. An entry lives as long as its
# code object (a weakref finalizer removes it), so ids are never reused while present.
_sources = {}
_override = threading.local()
_linecache_getlines = None


def remember(code, lines):
    """Records the lines `code` was compiled from, unless it is known already."""
    key = id(code)
    if key in _sources:
        return
    _sources[key] = lines
    weakref.finalize(code, _sources.pop, key, None)


def _lines_for(code):
    if code is None or not _sources:
        return None
    return _sources.get(id(code))


def _getlines(filename, module_globals=None):
    override = getattr(_override, "value", None)
    if override is not None and override[0] == filename:
        return override[1]
    return _linecache_getlines(filename, module_globals)


def _patch_linecache():
    global _linecache_getlines
    import linecache

    _linecache_getlines = linecache.getlines
    linecache.getlines = _getlines


class _source_of:
    """Within it, linecache answers for `code`'s file with the lines `code` came from."""

    def __init__(self, code):
        lines = _lines_for(code)
        self.value = (code.co_filename, lines) if lines is not None else None

    def __enter__(self):
        self.previous = getattr(_override, "value", None)
        if self.value is not None:
            _override.value = self.value

    def __exit__(self, *exc):
        _override.value = self.previous


def _code_of(obj):
    """The code object behind a frame, traceback, function, method or code, else None."""
    if hasattr(obj, "tb_frame"):
        obj = obj.tb_frame
    if hasattr(obj, "f_code"):
        return obj.f_code
    obj = getattr(obj, "__func__", obj)
    obj = getattr(obj, "__code__", obj)
    return obj if hasattr(obj, "co_filename") else None


def _fix_summaries(summaries, frames):
    """Looks the lines of summaries of frames running replaced code up again."""
    if not summaries or not _sources:
        return
    for summary, frame in zip(summaries, frames[-len(summaries):]):
        code = frame.f_code
        if _lines_for(code) is None:
            continue
        if hasattr(summary, "_lines_dedented"):  # 3.13+
            summary._lines = None
            summary._lines_dedented = None
        else:
            summary._line = None
        with _source_of(code):
            summary.line


def _patch_traceback():
    import traceback

    summary = traceback.StackSummary
    name = (
        "_extract_from_extended_frame_gen"
        if "_extract_from_extended_frame_gen" in summary.__dict__
        else "extract"
    )
    original = summary.__dict__[name].__func__

    def extract(klass, frame_gen, **options):
        frames = []

        def recorded():
            for item in frame_gen:
                frames.append(item[0])
                yield item

        result = original(klass, recorded(), **options)
        _fix_summaries(result, frames)
        return result

    extract.__wrapped__ = original
    setattr(summary, name, classmethod(extract))


def _with_source(method, frame_of):
    def wrapper(*args, **kwargs):
        frame = frame_of(*args)
        with _source_of(getattr(frame, "f_code", None)):
            return method(*args, **kwargs)

    wrapper.__wrapped__ = method
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def _patch_inspect():
    import inspect

    inspect.findsource = _with_source(
        inspect.findsource, lambda obj, *rest: _frame_like(_code_of(obj))
    )


class _frame_like:
    """Adapts a code object to what `_with_source` reads."""

    def __init__(self, code):
        self.f_code = code


def _patch_pdb():
    import bdb
    import pdb

    bdb.Bdb.format_stack_entry = _with_source(
        bdb.Bdb.format_stack_entry, lambda self, frame_lineno, *rest: frame_lineno[0]
    )
    for name in ("do_list", "do_longlist"):
        method = getattr(pdb.Pdb, name, None)
        if method is not None:
            wrapped = _with_source(method, lambda self, *rest: self.curframe)
            setattr(pdb.Pdb, name, wrapped)
            # pdb's aliases (`l`, `ll`) are the same functions under other names.
            for alias, value in list(vars(pdb.Pdb).items()):
                if value is method:
                    setattr(pdb.Pdb, alias, wrapped)


def _python_excepthook(exc_type, exc_value, exc_traceback):
    import traceback  # patched as it is imported

    traceback.print_exception(exc_type, exc_value, exc_traceback)


def _thread_excepthook(args):
    import traceback

    if args.exc_type is SystemExit:
        return
    stderr = sys.stderr
    if stderr is None and args.thread is not None:
        stderr = getattr(args.thread, "_stderr", None)
    if stderr is None:
        return
    name = args.thread.name if args.thread is not None else threading.get_ident()
    print(f"Exception in thread {name}:", file=stderr, flush=True)
    traceback.print_exception(
        args.exc_type, args.exc_value, args.exc_traceback, file=stderr
    )
    stderr.flush()


def _patch_excepthooks():
    # Before 3.13 the default hooks print in C and read the file from disk; the same output
    # from the traceback module goes through the lookups above. A hook the program set
    # itself is left alone.
    if sys.version_info >= (3, 13):
        return
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _python_excepthook
    import _thread

    # threading.__excepthook__ is 3.10+; 3.9's default is the C hook itself.
    default = getattr(threading, "__excepthook__", None) or getattr(
        _thread, "_excepthook", None
    )
    if threading.excepthook is default:
        threading.excepthook = _thread_excepthook


class _PatchOnImport:
    """Patches linecache, traceback, inspect and pdb when the program imports them:
    importing them ourselves would cost a save tens of milliseconds (and give up the GIL
    at every file read)."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return None

        def exec_and_patch(module):
            exec_module(module)
            if self.patches.pop(name, None) is not None:
                patch()

        loader.exec_module = exec_and_patch
        return spec


def _install():
    _patch_excepthooks()
    later = {}
    for name, patch in (
        ("linecache", _patch_linecache),
        ("traceback", _patch_traceback),
        ("inspect", _patch_inspect),
        ("pdb", _patch_pdb),
    ):
        if name in sys.modules:
            patch()
        else:
            later[name] = patch
    if later:
        sys.meta_path.insert(0, _PatchOnImport(later))


_install()
