"""Shared by the Python benchmarks: start lbl-simrig and lbld on a copy of an
example rig with free ports, talk to their sockets, and clean up by PID."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LBL_BUILD", os.path.join(TOP, "build"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def with_free_ports(text):
    """A rig file's text with each port it names replaced by a free one, and
    the map old port -> new one."""
    ports = {}
    for old in sorted(set(re.findall(r"port: *(\d+)", text))):
        new = free_port()
        ports[int(old)] = new
        text = re.sub(r"port: *%s\b" % old, "port: %d" % new, text)
    return text, ports


def spawn(procs, argv, stdout, err_path):
    """Start argv with its standard output to stdout (a file or
    subprocess.DEVNULL) and its standard error to the file err_path, and add
    it to procs for stop(). Raises OSError when it cannot be started."""
    p = subprocess.Popen(argv, stdout=stdout, stderr=open(err_path, "w"))
    procs.append(p)
    return p


def wait_until(cond, seconds):
    """True as soon as cond() holds, asked every 50 ms; False when it has not
    held within seconds. An OSError from cond (a file or socket not there
    yet) counts as not yet."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def lblctl(socket_path, *args):
    """lblctl ARGS against the lbld listening on socket_path: the finished
    subprocess, its output and errors as text (never raises for an exit
    status; the caller reads returncode)."""
    env = dict(os.environ, LBL_SOCKET=socket_path)
    return subprocess.run([os.path.join(BUILD, "lblctl")] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(procs, seconds, in_turn=False):
    """SIGTERM to each process of procs still running, the last started
    first, then SIGKILL to any not gone within seconds. With in_turn each is
    waited for before the next is told (lbld makes the rig safe while its
    simulator still answers); otherwise all are told first, then waited for."""
    if not in_turn:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
    for p in reversed(procs):
        if in_turn and p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(seconds)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Rig:
    """A simulated rig and, optionally, lbld on it, in a private directory."""

    def __init__(self, example, time_scale=1, daemon=True, extra_rig=None):
        self.dir = tempfile.mkdtemp(prefix="lbl-bench.")
        self.procs = []
        text = open(os.path.join(TOP, "hw", "examples", example)).read()
        text, self.ports = with_free_ports(text)
        if extra_rig:
            text = extra_rig(text)
        self.rig = os.path.join(self.dir, "rig.yaml")
        open(self.rig, "w").write(text)
        self.simctl_path = os.path.join(self.dir, "sim.ctl")
        self.socket = os.path.join(self.dir, "lbld.sock")
        self.db = os.path.join(self.dir, "lbl.db")
        self.gpio = os.path.join(self.dir, "gpio")
        os.mkdir(self.gpio)
        out = open(os.path.join(self.dir, "simrig.out"), "w")
        self.sim = self._spawn([os.path.join(BUILD, "lbl-simrig"), "--rig", self.rig,
                                "--time-scale", str(time_scale), "--control", self.simctl_path],
                               out, "simrig.err")
        self._wait(lambda: "ready" in open(os.path.join(self.dir, "simrig.out")).read(), "lbl-simrig")
        self.lbld = None
        if daemon:
            self.lbld = self._spawn([os.path.join(BUILD, "lbld"), "--rig", self.rig, "--db", self.db,
                                     "--socket", self.socket, "--gpio-sim", self.gpio,
                                     "--time-scale", str(time_scale)], subprocess.DEVNULL, "lbld.err")
            self._wait(lambda: self.ctl("status").returncode == 0, "lbld")

    def _spawn(self, argv, stdout, errname):
        return spawn(self.procs, argv, stdout, os.path.join(self.dir, errname))

    def _wait(self, cond, what, seconds=15):
        if not wait_until(cond, seconds):
            raise SystemExit("%s did not start; see %s" % (what, self.dir))

    def ctl(self, *args):
        return lblctl(self.socket, *args)

    def simctl(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.simctl_path)
        s.sendall((line + "\n").encode())
        out = b""
        while not out.endswith(b"\n"):
            b = s.recv(4096)
            if not b:
                break
            out += b
        s.close()
        return out.decode().strip()

    def sim_state(self, device):
        return dict(kv.split("=", 1) for kv in self.simctl("get " + device).split()[1:])

    def close(self):
        stop(self.procs, 5)
        if not os.environ.get("LBL_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
