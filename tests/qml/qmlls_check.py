#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives qmlls over its stdio LSP (Content-Length framed JSON-RPC) the way an editor does:
initialize, open a QML file that uses RegistryHandler, and check that qmlls reports no
diagnostic for it and offers RegistryHandler as a completion.

    qmlls_check.py --qmlls /usr/lib/qt6/bin/qmlls --workdir DIR -- <qmlls arguments...>
"""
import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

QML = """import QtQml
import RegistryIO

QtObject {
    id: root
    property QmlRegistry registry: QmlRegistry {}
    property RegistryHandler watcher: RegistryHandler {
        registry: root.registry
        handler: event => console.log(event)
    }
    
}
"""
# Completion on the empty line of the root object's body, where an editor offers the types in
# scope (the object declarations one may write there).
COMPLETE_LINE = QML.splitlines().index("    ")
COMPLETE_CHARACTER = len("    ")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--qmlls", required=True)
    p.add_argument("--workdir", required=True, help="where the QML file is written")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("args", nargs="*", help="qmlls arguments")
    a = p.parse_args()

    os.makedirs(a.workdir, exist_ok=True)
    path = os.path.join(a.workdir, "Check.qml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(QML)
    uri = "file://" + os.path.abspath(path)

    proc = subprocess.Popen([a.qmlls, "--ignore-settings", *a.args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=a.workdir)
    messages = queue.Queue()

    def reader():
        out = proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    messages.put(None)
                    return
                line = line.decode("ascii", "replace").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            body = out.read(int(headers.get("content-length", "0")))
            messages.put(json.loads(body))

    threading.Thread(target=reader, daemon=True).start()

    def send(message):
        data = json.dumps(message).encode("utf-8")
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        proc.stdin.flush()

    deadline = time.monotonic() + a.timeout

    def wait_for(predicate, what):
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"qmlls_check: timed out waiting for {what}")
            try:
                m = messages.get(timeout=left)
            except queue.Empty:
                continue
            if m is None:
                raise SystemExit(f"qmlls_check: qmlls ended before {what}")
            if predicate(m):
                return m
            seen.append(m)

    seen = []
    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"processId": os.getpid(), "rootUri": "file://" + os.path.abspath(a.workdir),
                         "capabilities": {}}})
        wait_for(lambda m: m.get("id") == 1, "the initialize reply")
        send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
              "params": {"textDocument": {"uri": uri, "languageId": "qml", "version": 1, "text": QML}}})
        diagnostics = wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                               and m["params"].get("uri") == uri, "diagnostics")["params"]["diagnostics"]
        problems = diagnostics
        send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion",
              "params": {"textDocument": {"uri": uri},
                         "position": {"line": COMPLETE_LINE, "character": COMPLETE_CHARACTER}}})
        reply = wait_for(lambda m: m.get("id") == 2, "the completion reply").get("result") or []
        items = reply.get("items", []) if isinstance(reply, dict) else reply
        labels = {i.get("label") for i in items}
        send({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": None})
        send({"jsonrpc": "2.0", "method": "exit", "params": None})
    finally:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    ok = True
    if problems:
        ok = False
        for d in problems:
            print(f"qmlls_check: diagnostic at line {d['range']['start']['line'] + 1}: {d.get('message')}")
    for wanted in ("RegistryHandler", "QmlRegistry"):
        if wanted not in labels:
            ok = False
            print(f"qmlls_check: completion does not offer {wanted} ({len(labels)} items)")
    print("qmlls_check: " + ("ok" if ok else "FAILED") + f" ({len(labels)} completions, {len(diagnostics)} diagnostics)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
