"""Make this process unable to open internet sockets, so nothing can leave the machine.

Why: the project promises that nothing is ever sent anywhere, but the native library in
the MediaPipe wheel (`mediapipe/tasks/c/libmediapipe.so`, 1.2.x) contains Google's
"clearcut" usage-metrics uploader: a native thread of a `PoseLandmarker` resolves
`play.googleapis.com` (a DNS query over UDP port 53, visible with
`strace -f -e trace=socket,connect,sendmmsg`; with 1.2.2 it happens when the landmarker
is closed); see google-ai-edge/mediapipe#6291. There is no documented opt-out,
environment variables such as GLOG_* do not reach it, and we cannot patch the C++ code,
so instead the process is made incapable of using the network.

What: on Linux (x86_64 and aarch64), `block_network()` installs a seccomp-BPF filter
under which `socket()` fails with EACCES for AF_INET and AF_INET6. Sockets of every other
family keep working, AF_UNIX in particular: desktop notifications go over D-Bus on it.
The filter is synchronised onto every thread of the process (SECCOMP_FILTER_FLAG_TSYNC),
including native threads MediaPipe has already started, and is inherited by every thread
and child process created afterwards. MediaPipe copes: its uploader fails silently, and
the probe socket its library opens when loaded is simply refused.

What not: sockets opened before the call keep working, so call it early. A resolver
daemon reached over AF_UNIX (nscd, systemd-resolved through nss-resolve, sssd) may still
send a DNS query on the process's behalf, though no connection can follow it. Raw
AF_PACKET sockets (root only), 32-bit compat system calls and io_uring's socket
operations are not filtered; neither Python nor MediaPipe uses them.

The filter cannot be removed for the life of the process (that is the point) and child
processes inherit it, along with no_new_privs (setuid programs they run gain nothing).
That is why importing the library never installs it: the CLI's `main()` is to call
`block_network()` first thing. On macOS, Windows, other architectures or where seccomp is
unavailable (some containers), it does nothing, logs why, and returns False.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import platform
import socket
import sys
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

BLOCKED_FAMILIES: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6)


@dataclass(frozen=True)
class _Arch:
    """What the filter needs to know about one machine architecture (from the kernel ABI)."""

    audit_arch: int
    socket_nr: int
    seccomp_nr: int
    # x86_64 also runs x32 system calls: same audit arch, number with bit 30 set. Masking
    # it keeps `socket` from being reachable as 0x40000000 + 41.
    nr_mask: int = 0xFFFFFFFF


_ARCHES: dict[str, _Arch] = {
    "x86_64": _Arch(audit_arch=0xC000003E, socket_nr=41, seccomp_nr=317, nr_mask=0xBFFFFFFF),
    "aarch64": _Arch(audit_arch=0xC00000B7, socket_nr=198, seccomp_nr=277),
}
_ARCHES["amd64"] = _ARCHES["x86_64"]
_ARCHES["arm64"] = _ARCHES["aarch64"]

# Constants from <linux/prctl.h>, <linux/seccomp.h> and <linux/filter.h>.
_PR_SET_SECCOMP = 22
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_MODE_FILTER = 2
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_BPF_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_BPF_AND_K = 0x04 | 0x50 | 0x00  # BPF_ALU | BPF_AND | BPF_K
_BPF_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K

# Offsets into struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]. Both supported
# architectures are little-endian, so args[0]'s low word (the int `domain`) comes first.
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARG0_LOW = 16

_lock = threading.Lock()
_blocked = False


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [
        ("len", ctypes.c_ushort),
        ("filter", ctypes.POINTER(_SockFilter)),
    ]


def network_blocked() -> bool:
    """Whether `block_network()` has installed the filter in this process."""
    return _blocked


def block_network() -> bool:
    """Forbid AF_INET/AF_INET6 sockets for every thread of this process, irreversibly.

    Returns True when the filter is in place (also on a repeated call, which installs
    nothing more) and False when this platform cannot do it; never raises for that.
    """
    global _blocked
    with _lock:
        if _blocked:
            return True
        reason = _unsupported_reason()
        if reason is None:
            try:
                reason = _install(_ARCHES[platform.machine().lower()])
            except (OSError, AttributeError) as error:
                # No loadable C library, or one without prctl/syscall (not glibc or musl).
                reason = f"cannot call into the C library: {error}"
        if reason is not None:
            log.info("network access not blocked: %s", reason)
            return False
        _blocked = True
        log.debug("network blocked: socket() fails with EACCES for AF_INET and AF_INET6")
        return True


def _unsupported_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return f"seccomp is Linux-only (platform {sys.platform})"
    machine = platform.machine()
    if machine.lower() not in _ARCHES:
        return f"no seccomp filter for machine architecture {machine!r}"
    # A 32-bit Python on a 64-bit kernel reports the kernel's machine but makes compat
    # system calls, whose numbers differ: calling "seccomp" by the 64-bit number there
    # would call something else.
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return f"32-bit Python on {machine!r} is not supported"
    return None


def _build_filter(arch: _Arch) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jt, jf, k) rows: deny IP socket(), allow everything else."""
    families = [int(family) for family in BLOCKED_FAMILIES]
    header = 6
    allow_at = header + len(families)
    deny_at = allow_at + 1

    def skip_to(target: int, pc: int) -> int:
        # BPF jumps count the instructions skipped after the current one.
        return target - pc - 1

    program = [
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        # A system call of another ABI has other numbers: let it through rather than
        # misread it (and never kill the process).
        (_BPF_JEQ_K, 0, skip_to(allow_at, 1), arch.audit_arch),
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_NR),
        (_BPF_AND_K, 0, 0, arch.nr_mask),
        (_BPF_JEQ_K, 0, skip_to(allow_at, 4), arch.socket_nr),
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW),
    ]
    for pc, family in enumerate(families, start=header):
        program.append((_BPF_JEQ_K, skip_to(deny_at, pc), 0, family))
    program += [
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EACCES),
    ]
    return program


def _as_fprog(
    program: list[tuple[int, int, int, int]],
) -> tuple[_SockFprog, ctypes.Array[_SockFilter]]:
    rows = (_SockFilter * len(program))(*(_SockFilter(*row) for row in program))
    # The array is returned too so that it outlives the pointer the kernel reads.
    return _SockFprog(len(program), rows), rows


def _install(arch: _Arch) -> str | None:
    """Install the filter; None on success, otherwise why it could not be done."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.restype = ctypes.c_int
    libc.syscall.restype = ctypes.c_long
    ulong = ctypes.c_ulong
    # Without no_new_privs only a privileged process may install a filter: setuid
    # programs it starts could otherwise be confused into misbehaving.
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
        return f"prctl(PR_SET_NO_NEW_PRIVS) failed: {_last_error()}"
    fprog, _rows = _as_fprog(_build_filter(arch))
    result = libc.syscall(
        ctypes.c_long(arch.seccomp_nr),
        ulong(_SECCOMP_SET_MODE_FILTER),
        ulong(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if result == 0:
        return None
    if result > 0:
        # TSYNC names the thread it could not synchronise (it has a filter of its own).
        # Filtering only some threads would be a promise we cannot keep.
        return f"thread {result} could not be synchronised to the filter"
    failure = ctypes.get_errno()
    if failure not in (errno.ENOSYS, errno.EINVAL):
        return f"seccomp(SECCOMP_SET_MODE_FILTER) failed: {os.strerror(failure)}"
    return _install_without_tsync(libc, fprog)


def _install_without_tsync(libc: ctypes.CDLL, fprog: _SockFprog) -> str | None:
    """Older kernels (before 3.17) only filter the calling thread and its later children.

    Threads already running escape the filter, which is why `block_network()` must be
    called before MediaPipe starts any.
    """
    ulong = ctypes.c_ulong
    if libc.prctl(_PR_SET_SECCOMP, ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog)) != 0:
        return f"prctl(PR_SET_SECCOMP) failed: {_last_error()}"
    log.info("seccomp TSYNC unavailable: only threads started from now on are filtered")
    return None


def _last_error() -> str:
    return os.strerror(ctypes.get_errno())
