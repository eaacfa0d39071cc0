#!/usr/bin/env python3
"""run.py — partage's end-to-end suite against the real partaged binary.

    python3 tests/e2e/run.py --bin bin [-k SUBSTRING]... [--keep] [-v]

Discovers tests/e2e/test_*.py and runs every `test_*` function in file order.
A test may take parameters by name:
    srv  the module's shared Server (config: the module's CONFIG string),
         started on first use, restarted if a test left it dead
    tmp  a fresh temporary directory
Prints one line per test ("ok   file.test 0.12s", "FAIL file.test: why",
"skip file.test: why") and ends with "e2e: N passed, N failed[, N skipped]".
Exit status 0 only when nothing failed.  Every server started is killed at
the end, also on failure or Ctrl-C, and a leftover process is a failure.
Each test has 90 s (a module's TIMEOUT overrides); a shared server that dies
or does not exit 0 on SIGTERM is reported as a failure of "file.<server>".
"""

import argparse
import importlib
import inspect
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import harness  # noqa: E402

DEFAULT_TIMEOUT = 90


def one_line(s, limit=400):
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[:limit] + "..."


def where(tb):
    """file:line of the innermost frame in a test file."""
    for fr in reversed(traceback.extract_tb(tb)):
        if os.path.basename(fr.filename).startswith("test_"):
            return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
    return ""


def on_alarm(signum, frame):
    raise harness.Timeout("test timed out")


def on_term(signum, frame):
    raise KeyboardInterrupt()


def our_processes(root):
    """pids whose command line mentions the run's temporary root."""
    pids = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if root.encode() in cmd and state != "Z":
            pids.append((int(d), cmd.replace(b"\0", b" ").decode("utf-8", "replace")))
    return pids


def unmount_under(root):
    try:
        with open("/proc/mounts") as f:
            mounts = [l.split()[1] for l in f]
    except OSError:
        return
    for m in reversed(mounts):
        m = m.replace("\\040", " ")
        if m.startswith(root + "/"):
            pre = [] if os.geteuid() == 0 else ["sudo", "-n"]
            subprocess.call(pre + ["umount", "-l", m], stderr=subprocess.DEVNULL)


class Runner:
    def __init__(self, args):
        self.args = args
        self.passed = self.failed = self.skipped = 0

    def report(self, kind, name, msg="", secs=None, details=()):
        if kind == "ok":
            print("ok   %s %.2fs" % (name, secs), flush=True)
            self.passed += 1
        elif kind == "skip":
            print("skip %s: %s" % (name, one_line(msg)), flush=True)
            self.skipped += 1
        else:
            # a hung server's thread list is the whole point: longer
            print("FAIL %s: %s" % (name, one_line(msg, 3000 if "its threads:" in str(msg) else 400)),
                  flush=True)
            for d in details:
                if d:
                    print("     " + one_line(d, 1000), flush=True)
            self.failed += 1

    def run_module(self, modname):
        try:
            mod = importlib.import_module(modname)
        except Exception as e:  # noqa: BLE001
            self.report("FAIL", modname, "import failed: %s: %s" % (type(e).__name__, e),
                        details=[where(e.__traceback__)])
            return
        tests = [(n, f) for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == modname]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        ks = self.args.k or []
        tests = [t for t in tests if not ks or any(k in "%s.%s" % (modname, t[0]) for k in ks)]
        if not tests:
            return
        shared = {"srv": None}
        mod_timeout = getattr(mod, "TIMEOUT", DEFAULT_TIMEOUT)

        def get_srv():
            s = shared["srv"]
            if s is not None and not s.alive():
                rc = s.proc.returncode if s.proc else None
                self.report("FAIL", "%s.<server>" % modname,
                            "the shared partaged died (exit %s) during the previous test" % rc,
                            details=[s.log_tail(12)])
                s = None
            if s is None:
                s = harness.Server(getattr(mod, "CONFIG", ""), name=modname)
                shared["srv"] = s
            return s

        try:
            for tname, fn in tests:
                full = "%s.%s" % (modname, tname)
                params = list(inspect.signature(fn).parameters)
                harness.CURRENT.clear()
                t0 = time.monotonic()
                signal.alarm(getattr(fn, "timeout", mod_timeout))
                try:
                    kwargs = {}
                    for p in params:
                        if p == "srv":
                            kwargs["srv"] = get_srv()
                            if kwargs["srv"] not in harness.CURRENT:
                                harness.CURRENT.append(kwargs["srv"])
                        elif p == "tmp":
                            kwargs["tmp"] = harness.mkdtemp("t-")
                        else:
                            raise TypeError("unknown fixture %r" % p)
                    fn(**kwargs)
                    signal.alarm(0)
                    self.report("ok", full, secs=time.monotonic() - t0)
                except harness.Skip as e:
                    signal.alarm(0)
                    self.report("skip", full, str(e))
                except KeyboardInterrupt:
                    signal.alarm(0)
                    shared["interrupted"] = True
                    raise
                except BaseException as e:  # noqa: BLE001 (AssertionError, OSError, Timeout, ...)
                    signal.alarm(0)
                    msg = str(e) or type(e).__name__
                    if not isinstance(e, AssertionError):
                        msg = "%s: %s" % (type(e).__name__, msg)
                    details = [where(e.__traceback__)]
                    if self.args.verbose:
                        details += traceback.format_exception(type(e), e, e.__traceback__)[-6:]
                    details += ["log: " + x for x in getattr(e, "log", ())]
                    for s in harness.CURRENT:
                        if isinstance(e, harness.ServerError):
                            break
                        if not s.alive() and s.proc is not None and s.proc.returncode not in (0, -9, None):
                            details.append("partaged exited with %s" % s.proc.returncode)
                        details.append("log: " + s.log_tail(6))
                    self.report("FAIL", full, msg, details=details)
                finally:
                    signal.alarm(0)
                    # servers a test started itself are its own; make sure they are gone
                    for s in harness.CURRENT:
                        if s is not shared["srv"]:
                            s.kill9()
        finally:
            s = shared["srv"]
            if s is not None and shared.get("interrupted"):
                s.kill9()
            elif s is not None:
                was_alive = s.alive()
                try:
                    rc = s.stop()
                except harness.ServerError as e:
                    rc = str(e)
                if rc not in (0, None) and was_alive:
                    self.report("FAIL", "%s.<server>" % modname,
                                "the shared partaged did not exit 0 on SIGTERM: %s" % rc,
                                details=["log: " + x for x in s.log_lines(25)])
                elif not was_alive:
                    self.report("FAIL", "%s.<server>" % modname,
                                "the shared partaged died (exit %s)" % s.proc.returncode,
                                details=["log: " + x for x in s.log_lines(25)])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="bin", help="directory holding partaged (default bin)")
    ap.add_argument("-k", action="append", help="run only tests whose file.name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failure, test statistics")
    args = ap.parse_args()

    harness.BIN_DIR = os.path.abspath(args.bin)
    if args.verbose:
        os.environ["E2E_VERBOSE"] = "1"
    root = tempfile.mkdtemp(prefix="partage-e2e-")
    harness.ROOT = root
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored

    runner = Runner(args)
    mods = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    t0 = time.monotonic()
    interrupted = False
    try:
        for m in mods:
            runner.run_module(m)
    except KeyboardInterrupt:
        interrupted = True
        print("e2e: interrupted", flush=True)
    finally:
        signal.alarm(0)
        harness.kill_all()
        left = our_processes(root)
        for pid, _cmd in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if left:
            runner.report("FAIL", "run.leftover_processes",
                          "%d process(es) still ran after the suite: %s" % (
                              len(left), "; ".join(c for _p, c in left)))
        unmount_under(root)
        if args.keep:
            print("e2e: kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if interrupted and runner.failed == 0:
        runner.failed = 1
    tail = ", %d skipped" % runner.skipped if runner.skipped else ""
    print("e2e: took %.0fs" % (time.monotonic() - t0), flush=True)
    print("e2e: %d passed, %d failed%s" % (runner.passed, runner.failed, tail), flush=True)
    sys.exit(0 if runner.failed == 0 and not interrupted else 1)


if __name__ == "__main__":
    main()
