"""The network block: what it forbids, what it leaves alone, and that MediaPipe still runs.

The seccomp filter cannot be removed from a process, so every test that installs it does
so in a fresh Python subprocess, never in the pytest process. The BPF program itself is
checked in-process by a small interpreter, so its logic is tested on every platform.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from posture import netguard
from tests.conftest import REPO

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="seccomp filters exist only on Linux"
)

# Exit status of a child whose platform cannot block; its stdout then holds the reason.
CANNOT_BLOCK = 77

# Runs first in every child that needs the block: installs it, or exits with the reason
# `block_network()` logged so that the test can skip with it.
BLOCK_PREAMBLE = f"""
import logging, sys
reasons = []
class KeepReasons(logging.Handler):
    def emit(self, record):
        reasons.append(record.getMessage())
guard_log = logging.getLogger("posture.netguard")
guard_log.addHandler(KeepReasons())
guard_log.setLevel(logging.DEBUG)
from posture.netguard import block_network, network_blocked
if not block_network():
    print(reasons[-1] if reasons else "block_network() returned False")
    sys.exit({CANNOT_BLOCK})
"""

PIPELINE = """
import numpy as np
from posture.pose import PoseEstimator
with PoseEstimator(mode="image") as estimator:
    for _ in range(3):
        pose = estimator.estimate_image(np.zeros((480, 640, 3), np.uint8))
print("pose estimated, detected:", pose.detected)
"""


def run_python(
    code: str, *, blocked: bool = True, wrapper: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (after the block, unless `blocked` is False)."""
    source = (BLOCK_PREAMBLE if blocked else "") + textwrap.dedent(code)
    completed = subprocess.run(
        [*wrapper, sys.executable, "-c", source],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if blocked and completed.returncode == CANNOT_BLOCK:
        pytest.skip(f"block_network() cannot block here: {completed.stdout.strip()}")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def skip_unless_blocked(completed: subprocess.CompletedProcess[str]) -> None:
    """For children that call block_network() themselves and print "blocked: <result>"."""
    if "blocked: False" in completed.stdout:
        logged = [line for line in completed.stdout.splitlines() if "not blocked" in line]
        pytest.skip(f"block_network() cannot block here: {(logged or ['no reason logged'])[0]}")


# The BPF program, evaluated by a minimal classic-BPF interpreter.


def evaluate(program: list[tuple[int, int, int, int]], arch: int, nr: int, arg0: int) -> int:
    """What the kernel would return for a system call: `arch`, number `nr`, first arg `arg0`."""
    words = {0: nr & 0xFFFFFFFF, 4: arch, 16: arg0 & 0xFFFFFFFF, 20: arg0 >> 32}
    accumulator, pc = 0, 0
    while True:
        code, jump_true, jump_false, k = program[pc]
        if code == netguard._BPF_LD_W_ABS:
            accumulator = words[k]
        elif code == netguard._BPF_AND_K:
            accumulator &= k
        elif code == netguard._BPF_JEQ_K:
            pc += jump_true if accumulator == k else jump_false
        elif code == netguard._BPF_RET_K:
            return k
        else:
            raise AssertionError(f"unexpected BPF instruction {code:#x}")
        pc += 1


X86_64 = netguard._ARCHES["x86_64"]
AARCH64 = netguard._ARCHES["aarch64"]
DENY = netguard._SECCOMP_RET_ERRNO | errno.EACCES
ALLOW = netguard._SECCOMP_RET_ALLOW


@pytest.mark.parametrize("arch", [X86_64, AARCH64], ids=["x86_64", "aarch64"])
@pytest.mark.parametrize(
    ("family", "expected"),
    [(2, DENY), (10, DENY), (1, ALLOW), (16, ALLOW), ((1 << 32) | 2, DENY)],
    ids=["AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK", "AF_INET-with-high-bits"],
)
def test_filter_denies_only_ip_sockets(arch, family, expected):
    program = netguard._build_filter(arch)
    assert evaluate(program, arch.audit_arch, arch.socket_nr, family) == expected


@pytest.mark.parametrize("arch", [X86_64, AARCH64], ids=["x86_64", "aarch64"])
def test_filter_allows_every_other_system_call(arch):
    program = netguard._build_filter(arch)
    for nr in range(512):
        if nr != arch.socket_nr:
            assert evaluate(program, arch.audit_arch, nr, 2) == ALLOW


def test_filter_allows_other_architectures_rather_than_misreading_them():
    program = netguard._build_filter(X86_64)
    audit_arch_i386 = 0x40000003
    assert evaluate(program, audit_arch_i386, X86_64.socket_nr, 2) == ALLOW
    assert evaluate(program, AARCH64.audit_arch, X86_64.socket_nr, 2) == ALLOW


def test_filter_catches_x32_socket_calls_on_x86_64():
    x32_bit = 0x40000000
    program = netguard._build_filter(X86_64)
    assert evaluate(program, X86_64.audit_arch, x32_bit | X86_64.socket_nr, 2) == DENY


# The real filter, in child processes.


@linux_only
def test_ip_sockets_are_refused_and_unix_sockets_still_work():
    completed = run_python(
        """
        import socket
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family, socket.SOCK_DGRAM)
            except PermissionError:
                print("refused", family.name)
        try:
            socket.getaddrinfo("example.com", 80)
        except OSError as error:
            print("lookup failed:", error)
        left, right = socket.socketpair(socket.AF_UNIX)
        left.sendall(b"ping")
        print("unix:", right.recv(4).decode())
        print("again:", block_network(), "status:", network_blocked())
        print(next(line for line in open("/proc/self/status") if line.startswith("Seccomp:")))
        """
    )
    out = completed.stdout
    assert "refused AF_INET\n" in out
    assert "refused AF_INET6\n" in out
    assert "lookup failed:" in out
    assert "unix: ping" in out
    assert "again: True status: True" in out
    # Mode 2 is SECCOMP_MODE_FILTER.
    assert re.search(r"Seccomp:\s+2", out)


@linux_only
def test_a_second_call_does_not_stack_another_filter():
    completed = run_python(
        """
        block_network()
        block_network()
        status = open("/proc/self/status").read()
        if "Seccomp_filters:" in status:
            print("filters:", status.split("Seccomp_filters:")[1].split()[0])
        """
    )
    match = re.search(r"filters: (\d+)", completed.stdout)
    if match is None:
        pytest.skip("this kernel does not count filters in /proc/self/status (before 5.9)")
    assert int(match.group(1)) == 1


@linux_only
def test_threads_started_before_the_block_are_covered_too():
    # MediaPipe's uploader runs on a native thread; Python threads are native threads too.
    completed = run_python(
        """
        import logging, socket, sys, threading
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        from posture.netguard import block_network
        go, outcome = threading.Event(), []
        def wait_then_connect():
            go.wait()
            try:
                socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                outcome.append("opened")
            except PermissionError:
                outcome.append("refused")
        thread = threading.Thread(target=wait_then_connect)
        thread.start()
        print("blocked:", block_network())
        go.set()
        thread.join()
        print("thread:", outcome[0])
        """,
        blocked=False,
    )
    skip_unless_blocked(completed)
    assert "thread: refused" in completed.stdout


@linux_only
def test_without_tsync_only_the_calling_thread_and_its_later_threads_are_covered():
    # An invalid system call number makes seccomp() fail with ENOSYS, as on kernels older
    # than 3.17, which sends block_network() down the prctl() fallback.
    completed = run_python(
        """
        import dataclasses, logging, platform, socket, sys, threading
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        from posture import netguard
        machine = platform.machine().lower()
        if machine in netguard._ARCHES:
            netguard._ARCHES[machine] = dataclasses.replace(
                netguard._ARCHES[machine], seccomp_nr=100_000
            )
        def try_socket(name):
            try:
                socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
                print(name, "opened")
            except PermissionError:
                print(name, "refused")
        go = threading.Event()
        earlier = threading.Thread(target=lambda: (go.wait(), try_socket("earlier")))
        earlier.start()
        print("blocked:", netguard.block_network())
        try_socket("caller")
        later = threading.Thread(target=try_socket, args=("later",))
        later.start()
        later.join()
        go.set()
        earlier.join()
        """,
        blocked=False,
    )
    skip_unless_blocked(completed)
    assert "caller refused" in completed.stdout
    assert "later refused" in completed.stdout
    # The documented gap of the fallback: why the CLI must block before MediaPipe starts.
    assert "earlier opened" in completed.stdout


@linux_only
def test_the_pose_estimator_still_works_after_the_block():
    completed = run_python(PIPELINE)
    assert "pose estimated, detected: False" in completed.stdout


@linux_only
def test_the_pipeline_opens_no_internet_socket_under_strace(tmp_path: Path):
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace.txt"
    # The explicit attempt proves strace saw the child's calls, whatever MediaPipe does.
    probe = "\nimport socket\ntry:\n    socket.socket(socket.AF_INET)\nexcept OSError:\n    pass\n"
    wrapper = (strace, "-f", "-e", "trace=socket,connect,sendto,sendmmsg", "-o", str(trace))
    try:
        run_python(PIPELINE + probe, wrapper=wrapper)
    except AssertionError as error:
        if "ptrace" in str(error) or "PTRACE" in str(error):
            pytest.skip(f"strace cannot trace here: {error}")
        raise
    calls = trace.read_text()
    assert re.search(r"socket\(AF_INET, .*= -1 EACCES", calls), calls
    opened = re.findall(r"socket\(AF_INET6?, .*= \d+", calls)
    connected = re.findall(r"connect\(\d+, \{sa_family=AF_INET6?,.*", calls)
    assert opened == []
    assert connected == []


def test_nothing_is_blocked_before_the_call():
    completed = run_python(
        """
        from posture.netguard import network_blocked
        print("blocked:", network_blocked())
        """,
        blocked=False,
    )
    assert "blocked: False" in completed.stdout


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ("sys.platform = 'darwin'", "Linux-only"),
        ("platform.machine = lambda: 'riscv64'", "'riscv64'"),
    ],
    ids=["not-linux", "unknown-architecture"],
)
def test_unsupported_platforms_get_false_and_a_logged_reason(patch, reason):
    completed = run_python(
        f"""
        import logging, platform, socket, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        {patch}
        from posture.netguard import block_network, network_blocked
        print("blocked:", block_network(), network_blocked())
        socket.socket(socket.AF_INET).close()
        print("socket still works")
        """,
        blocked=False,
    )
    assert "blocked: False False" in completed.stdout
    assert "network access not blocked:" in completed.stdout
    assert reason in completed.stdout
    assert "socket still works" in completed.stdout
