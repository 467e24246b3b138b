"""Quiet by default: what TensorFlow, absl, oneDNN and LiteRT print on their own is hidden while a
``reelrank`` command runs; ``reelrank --verbose COMMAND`` shows it all. Nothing here imports
TensorFlow."""

from __future__ import annotations

import sys


def quiet_frameworks(verbose: bool = False):
    """What the frameworks print on their own, hidden while a command runs (``reelrank --verbose``
    leaves it all as they print it); errors stay visible. Returns a context manager.

    * ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2 (C++ errors only); a user's own value wins.
    * Some C++ lines ignore that variable: the oneDNN notice (absl logs it before
      ``absl::InitializeLog()``, whatever the level) and LiteRT's ``INFO: Created TensorFlow Lite
      XNNPACK delegate``; no variable or API of TensorFlow 2.21 or LiteRT hides them (and oneDNN
      stays on: turning it off changes the numerics). So while the command runs, stderr's file
      descriptor goes through a filter that drops absl/TensorFlow (``I0000 …] ``) and LiteRT
      (``INFO: ``) log lines below that level, and absl's Python ``INFO:absl:``/``WARNING:absl:``
      lines; everything else passes (a line still being written waits at most 0.1 s).
    * The ``tensorflow`` Python logger (tf.function retracing notes) prints errors only.
    * Python warnings raised inside TensorFlow, Keras, tf2onnx, ONNX, absl or protobuf are ignored.

    Nothing here imports TensorFlow. A process that dies hard (a crash, ``os._exit``) may lose what
    the filter had not yet passed on; ``--verbose`` shows everything unfiltered."""
    import contextlib
    import logging
    import os
    import re
    import threading
    import warnings

    if verbose:
        return contextlib.nullcontext()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        min_level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        min_level = 2
    head = re.compile(rb"(?P<absl>[IWEF])\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] "
                      rb"|(?P<pre>WARNING: All log messages before absl::InitializeLog\(\))"
                      rb"|(?P<lite>INFO|WARNING|ERROR): |(?P<py>DEBUG|INFO|WARNING):absl:")
    # severities as TF_CPP_MIN_LOG_LEVEL counts them (the pre-init notice goes with its INFO line)
    severity = {b"I": 0, b"W": 1, b"E": 2, b"F": 3, b"INFO": 0, b"WARNING": 1, b"ERROR": 2}

    def drop(line: bytes) -> bool:
        m = head.match(line)
        if m is None:
            return False
        if m["py"]:
            return True
        return (0 if m["pre"] else severity[m["absl"] or m["lite"]]) < min_level

    def pump(src: int, dst: int) -> None:
        import select

        def write(data: bytes) -> None:
            while data:
                try:
                    data = data[os.write(dst, data):]
                except OSError:  # stderr went away: keep draining so that writers never block
                    return

        pending, state = b"", None  # a line not yet judged; the verdict on the line being passed
        while True:
            if pending and (len(pending) >= 160 or not select.select([src], [], [], 0.1)[0]):
                state = drop(pending)  # no log line is written this slowly or has a head this long
                write(b"" if state else pending)
                pending = b""
                continue
            chunk = os.read(src, 1 << 16)
            if not chunk:
                write(b"" if drop(pending) else pending)
                return
            data, pending, out = pending + chunk, b"", []
            for line in re.findall(rb"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+$", data):
                ended = line[-1:] in b"\r\n"
                if state is None and not ended:
                    pending = line
                    break
                dropped = drop(line) if state is None else state
                if not dropped:
                    out.append(line)
                state = None if ended else dropped
            write(b"".join(out))

    @contextlib.contextmanager
    def quiet():
        tf_logger = logging.getLogger("tensorflow")  # a plain logger; TensorFlow only adds a handler
        level = tf_logger.level
        tf_logger.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module=r"(tensorflow|tf_keras|keras|tf2onnx|onnx|onnxruntime"
                                                         r"|absl|google\.protobuf)(\.|$)")
                fds = None
                if os.name == "posix":
                    with contextlib.suppress(OSError):
                        fds = (os.dup(2), *os.pipe())
                if fds is None:
                    yield
                    return
                saved, r, w = fds
                sys.stderr.flush()
                os.dup2(w, 2)
                os.close(w)
                pumping = threading.Thread(target=pump, args=(r, saved), name="reelrank-stderr", daemon=True)
                pumping.start()
                try:
                    yield
                finally:
                    with contextlib.suppress(Exception):
                        sys.stderr.flush()
                    os.dup2(saved, 2)  # the pipe's last write end closes: the pump drains it and ends
                    pumping.join(timeout=5)  # (it runs on only while a child process holds the pipe)
                    if not pumping.is_alive():
                        os.close(r)
                        os.close(saved)
        finally:
            tf_logger.setLevel(level)

    return quiet()
