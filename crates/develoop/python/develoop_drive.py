# The develoop's driver for looped functions that are `async def` or generators: calling
# one only makes a coroutine or a generator, so a run also awaits it, or drives it to its
# end, giving each item it yields as it comes. The caller, on (c)ontinue, gets what it
# would have got: an awaitable of the result, or a generator replaying the items. That is
# made only when the caller gets it (a coroutine never awaited would warn).
import asyncio
import functools
import inspect
import os

_KINDS = (
    inspect.iscoroutinefunction,
    inspect.isgeneratorfunction,
    inspect.isasyncgenfunction,
)


def needs_driving(function):
    """Whether calls of the function must be awaited or driven."""
    function = inspect.unwrap(function)
    return any(kind(function) for kind in _KINDS)


def drive(value, give):
    """Awaits or drives `value`: (what was done, result, a function making what the caller
    gets, None), or
    (None, None, None, the error) with the traceback of the program's frames only (it is
    returned, not raised, so that no frame of ours is added to it)."""
    try:
        return (*_drive(value, give), None)
    except BaseException as error:
        error.__traceback__ = _program_frames(error.__traceback__)
        return None, None, None, error


_ASYNCIO = os.path.dirname(asyncio.__file__) + os.sep


def _program_frames(tb):
    """The traceback without the frames of this driver and of asyncio in front."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(_ASYNCIO):
            break
        tb = tb.tb_next
    return tb


def _drive(value, give):
    if inspect.isgenerator(value):
        items = []
        while True:
            try:
                item = next(value)
            except StopIteration as stop:
                returned = stop.value
                break
            give(**{f"yield[{len(items)}]": item})
            items.append(item)
        return _yielded("generator", items), items, functools.partial(_replay, items, returned)
    if inspect.isasyncgen(value):
        items = _run(_collect(value, give))
        return _yielded("async generator", items), items, functools.partial(_areplay, items)
    if inspect.iscoroutine(value):
        result = _run(value)
        return "awaited", result, functools.partial(_resolved, result)
    return None, value, lambda: value


def _yielded(kind, items):
    return f"{kind}: {len(items)} item{'' if len(items) == 1 else 's'} yielded"


def _run(awaitable):
    """Runs a coroutine to its end in a loop of its own, on this thread. The caller may be
    inside a running event loop (the looped function was awaited there), which waits for
    the develoop anyway: it is put aside while the private loop runs."""
    outer = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(awaitable)
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio.events._set_running_loop(outer)


async def _collect(agen, give):
    items = []
    async for item in agen:
        give(**{f"yield[{len(items)}]": item})
        items.append(item)
    return items


async def _resolved(result):
    return result


def _replay(items, returned):
    yield from items
    return returned


async def _areplay(items):
    for item in items:
        yield item
