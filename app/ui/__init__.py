"""The Qt window: renders the core's state and forwards the user's intent. No business rule lives here.

Importing this package loads Qt and takes back Python's own `__import__` from shiboken. Shiboken wraps
every import statement for its opt-in `from __feature__ import ...` syntax, which this app does not use:
the wrapper runs Python code on each import (the provider SDKs run a few per streamed chunk) and reads the
whole source of every module imported after Qt (`inspect.getsource`, to see whether it mentions PySide6).
Measured in the window: ~11% of the GUI thread's time while a reply streams, and the source of every module
the core and the SDKs load after start-up read twice. Shiboken keeps what it wrapped (its own C-level lazy
loader, which stays) as `builtins.__orig_import__`.

The cyclic garbage collector is paused while Qt loads, and left as it was found.
"""

import builtins
import gc

# Loading Qt creates tens of thousands of objects that live as long as the process (types, enums, signature
# tables): the cyclic collector's passes over them free nothing (~2-3 ms of a start). None runs while Qt
# loads, and what it made is then frozen (moved out of every later pass) before collection resumes.
_collecting = gc.isenabled()
gc.disable()
import PySide6.QtCore  # noqa: E402, F401 - loads shiboken, which installs its import wrapper

gc.freeze()
if _collecting:
    gc.enable()
builtins.__import__ = getattr(builtins, "__orig_import__", builtins.__import__)
