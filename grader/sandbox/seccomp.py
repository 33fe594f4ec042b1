"""A seccomp filter that completes the Landlock tier's network rules: no Internet sockets at all.

Landlock (ABI ≤ 7) restricts only TCP bind and connect; this filter makes ``socket()`` fail with ``EACCES`` for
``AF_INET`` and ``AF_INET6`` (so UDP too), and refuses ``io_uring_setup`` (io_uring could create sockets
without the system call) and, on x86_64, the x32 system calls. Unix sockets (the kernel's own channels) stay.
The launcher installs it after ``no_new_privs``.
"""

from __future__ import annotations

import platform
import sys

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SOCKET = {"x86_64": 41, "aarch64": 198}
IO_URING_SETUP = 425
X32_BIT = 0x40000000
AF_INET, AF_INET6 = 2, 10
EACCES = 13
_LD_ABS_W, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def program() -> list[tuple[int, int, int, int]] | None:
    """The filter as classic BPF ``(code, jt, jf, k)`` instructions for this machine, or None where unknown."""
    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in AUDIT_ARCH:
        return None
    deny = (_RET, 0, 0, _ERRNO | EACCES)
    allow = (_RET, 0, 0, _ALLOW)
    return [
        (_LD_ABS_W, 0, 0, 4),  # 0: the architecture
        (_JEQ, 1, 0, AUDIT_ARCH[machine]),  # 1: ours: 3, else 2
        allow,  # 2
        (_LD_ABS_W, 0, 0, 0),  # 3: the system call number
        (_JGE, 6, 0, X32_BIT),  # 4: x32: deny
        (_JEQ, 5, 0, IO_URING_SETUP),  # 5: deny
        (_JEQ, 0, 3, SOCKET[machine]),  # 6: socket: 7, else allow
        (_LD_ABS_W, 0, 0, 16),  # 7: its domain (low word of the first argument)
        (_JEQ, 2, 0, AF_INET),  # 8: deny
        (_JEQ, 1, 0, AF_INET6),  # 9: deny, else allow
        allow,  # 10
        deny,  # 11
    ]
