// The tidepool process a JS test file runs against, with the same contract as harness.py:
// `tidepool serve --port 0 --data DIR` prints one ready line on stdout (with --tls-port, a
// `tidepool TLS ready on https://…` line follows); SIGTERM must exit 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BIN = process.env.TIDEPOOL_BIN || join(REPO, "build", "tidepool");

// Starts a server on a fresh data directory; resolves to { proc, port, endpoint, dataDir }, plus
// { tlsPort, caPath } when extraArgs has --tls-port.
export function startServer(prefix, extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const tls = extraArgs.includes("--tls-port");
  const proc = spawn(BIN, ["serve", "--host", "127.0.0.1", "--port", "0", "--data", dataDir, ...extraArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error("tidepool printed no ready line within 10 s"));
    }, 10_000);
    proc.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${BIN}: ${err.message} (set TIDEPOOL_BIN)`));
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tidepool exited (code ${code}) before the ready line`));
    });
    const lines = createInterface({ input: proc.stdout });
    let ready;
    lines.on("line", (line) => {
      if (ready) {
        // Other ready lines (IMDS...) may come before the TLS one.
        const t = /^tidepool TLS ready on https:\/\/127\.0\.0\.1:(\d+) \(CA: (.+)\)$/.exec(line);
        if (!t) return;
        ready.tlsPort = Number(t[1]);
        ready.caPath = t[2];
      } else {
        const m = /^tidepool ready on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
        if (!m || m[2] === "0") {
          clearTimeout(timer);
          proc.kill("SIGKILL");
          reject(new Error(`unexpected first stdout line: ${JSON.stringify(line)}`));
          return;
        }
        ready = { proc, port: Number(m[2]), endpoint: m[1], dataDir };
        if (tls) return;
      }
      clearTimeout(timer);
      lines.removeAllListeners("line");
      proc.removeAllListeners("exit");
      resolvePromise(ready);
    });
  });
}

// SIGTERM, which must end the process with exit code 0; then the data directory goes.
export async function stopServer(srv) {
  if (!srv) return;
  if (srv.proc.exitCode === null) {
    const exited = new Promise((r) => srv.proc.once("exit", (code, signal) => r({ code, signal })));
    srv.proc.kill("SIGTERM");
    const { code } = await exited;
    assert.equal(code, 0, "tidepool must exit 0 on SIGTERM");
  }
  rmSync(srv.dataDir, { recursive: true, force: true });
}
