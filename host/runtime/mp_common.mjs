// Shared by mp_runner.mjs and mp_board.mjs: finding the pinned MicroPython
// WebAssembly port, and making folders in its in-memory filesystem.

import path from "node:path";

export async function importMicroPython() {
  const name = "@micropython/micropython-webassembly-pyscript";
  try {
    return await import(name);
  } catch (err) {
    const root = process.env.KEYLOCK_NODE_MODULES;
    if (!root) throw err;
    return await import(path.join(root, name, "micropython.mjs"));
  }
}

export function mkdirs(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (err) {
      // exists already
    }
  }
}
