#!/usr/bin/env node
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

// Cold start: for `run` (the default command), fork the plane runners before this process loads its
// own modules, so the host and its planes load in parallel. The supervisor adopts them; unused ones
// are stopped once the node is ready (and exit by themselves if this process dies first).
const cmd = process.argv[2];
const wantsHelp = process.argv.includes("--help") || process.argv.includes("-h");
if ((cmd === undefined || cmd === "run" || cmd.startsWith("-")) && !wantsHelp && process.env.MACRONODE_PREFORK !== "0") {
  const runner = fileURLToPath(new URL("../dist/src/planes/runner.js", import.meta.url));
  globalThis.__macronodePrefork = [0, 1, 2].map(() => {
    const p = fork(runner, ["spare"], { stdio: ["ignore", "inherit", "pipe", "ipc"], serialization: "json", detached: true });
    p.stderr.resume();
    return p;
  });
}

const { cli } = await import("../dist/src/main.js");
cli();
