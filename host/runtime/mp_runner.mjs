// Runs code on real MicroPython: the official WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript, pinned in package.json), under Node.js.
//
//   node mp_runner.mjs [--mount HOST_DIR:MP_DIR]... [--heap BYTES] SCRIPT.py
//       run a script; exit 1 with the traceback on stderr if it raises
//   node mp_runner.mjs [--mount HOST_DIR:MP_DIR]... [--heap BYTES] --serve
//       JSON lines on stdin, one answer per line on stdout:
//       {"id": 1, "exec": "code"}         -> {"id": 1, "out": "printed text"}
//       {"id": 2, "eval": "expression"}   -> {"id": 2, "out": "...", "value": <json of the value>}
//       a Python exception               -> {"id": n, "out": "...", "error": "Traceback ...", "type": "ValueError"}
//
// The firmware's host services that the WebAssembly port lacks come from the JS module
// `kl_host`: urandom(n) returns n bytes from Node's crypto (a CSPRNG). Mounted folders are
// copied into the port's in-memory filesystem (*.py and *.json files only).

import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import readline from "node:readline";
import { importMicroPython, mkdirs } from "./mp_common.mjs";


function parseArgs(argv) {
  const opts = { mounts: [], heap: 4 * 1024 * 1024, serve: false, script: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--mount") {
      const spec = argv[++i] || "";
      const at = spec.lastIndexOf(":");
      if (at <= 0) throw new Error(`--mount takes HOST_DIR:MP_DIR, got ${JSON.stringify(spec)}`);
      opts.mounts.push([spec.slice(0, at), spec.slice(at + 1)]);
    } else if (arg === "--heap") {
      opts.heap = parseInt(argv[++i], 10);
    } else if (arg === "--serve") {
      opts.serve = true;
    } else if (!opts.script && !arg.startsWith("--")) {
      opts.script = arg;
    } else {
      throw new Error(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (!opts.serve && !opts.script) throw new Error("give a SCRIPT.py or --serve");
  return opts;
}


function copyTree(FS, hostDir, mpDir) {
  mkdirs(FS, mpDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const src = path.join(hostDir, entry.name);
    const dst = mpDir + "/" + entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyTree(FS, src, dst);
    } else if (entry.name.endsWith(".py") || entry.name.endsWith(".json")) {
      FS.writeFile(dst, fs.readFileSync(src));
    }
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { loadMicroPython } = await importMicroPython();
  let out = "";
  const mp = await loadMicroPython({
    heapsize: opts.heap,
    linebuffer: false,
    stdout: (bytes) => {
      out += Buffer.from(bytes).toString("latin1");
    },
    stderr: (bytes) => {
      out += Buffer.from(bytes).toString("latin1");
    },
  });
  for (const [hostDir, mpDir] of opts.mounts) copyTree(mp.FS, hostDir, mpDir);
  mp.registerJsModule("kl_host", { urandom: (n) => crypto.randomBytes(n) });

  if (!opts.serve) {
    try {
      mp.runPython(fs.readFileSync(opts.script, "utf8"));
      process.stdout.write(out);
    } catch (err) {
      process.stdout.write(out);
      if (err.name !== "PythonError") throw err;
      if (err.type === "SystemExit") return;
      process.stderr.write(err.message);
      process.exitCode = 1;
    }
    return;
  }

  mp.runPython("import json as _kl_json");
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let req;
    let answer;
    out = "";
    try {
      req = JSON.parse(line);
      if (typeof req.exec === "string") {
        mp.runPython(req.exec);
        answer = { id: req.id, out };
      } else if (typeof req.eval === "string") {
        mp.runPython(`_kl_value = _kl_json.dumps(${req.eval})`);
        answer = { id: req.id, out, value: JSON.parse(mp.globals.get("_kl_value")) };
      } else {
        answer = { id: req.id, error: "a request needs an exec or eval string", type: "RunnerError" };
      }
    } catch (err) {
      if (err.name === "PythonError") {
        answer = { id: req && req.id, out, error: err.message, type: err.type };
      } else {
        answer = { id: req && req.id, out, error: String(err), type: "RunnerError" };
      }
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

main().catch((err) => {
  process.stderr.write(`mp_runner: ${err.message || err}\n`);
  process.exit(2);
});
