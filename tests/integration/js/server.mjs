// The tidepool process a JS test file runs against, with the same contract as harness.py:
// `tidepool serve --port 0 --data DIR` prints one ready line on stdout; SIGTERM must exit 0.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const BIN = process.env.TIDEPOOL_BIN || join(REPO, "build", "tidepool");

// Starts a server on a fresh data directory; resolves to { proc, port, endpoint, dataDir }.
export function startServer(prefix) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const proc = spawn(BIN, ["serve", "--host", "127.0.0.1", "--port", "0", "--data", dataDir], {
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
    lines.once("line", (line) => {
      const m = /^tidepool ready on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      clearTimeout(timer);
      if (!m || m[2] === "0") {
        proc.kill("SIGKILL");
        reject(new Error(`unexpected first stdout line: ${JSON.stringify(line)}`));
        return;
      }
      proc.removeAllListeners("exit");
      resolvePromise({ proc, port: Number(m[2]), endpoint: m[1], dataDir });
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
