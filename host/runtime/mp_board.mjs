// An emulated MicroPython board: the official WebAssembly port (npm
// @micropython/micropython-webassembly-pyscript, pinned in package.json) with its REPL on a
// serial line, so the real `mpremote` can drive it as it drives a board on /dev/ttyACM0.
//
//   node mp_board.mjs [--heap BYTES]
//
// The serial line is this process's stdin (bytes from the host) and stdout (bytes to the
// host). keylock.host.board.EmulatedBoard connects both to the master side of a
// pseudo-terminal and hands out the slave's path (/dev/pts/N) as the board's port; stderr
// carries diagnostics only.
//
// What a board does, and how this one does it:
// - The REPL: every byte from the line goes to the port's event-driven REPL
//   (replProcessChar), friendly (>>>) or raw (Ctrl-A), exactly as pyexec.c serves it.
// - Raw-paste mode (Ctrl-E 'A' Ctrl-A in the raw REPL, mpremote's fast path): the port's
//   own reader would read stdin through mp_hal_stdin_rx_chr, which the WebAssembly port
//   defines as 0, so the board serves the protocol itself: "R\x01", the flow-control window,
//   a 0x01 per window consumed, "\x04" at the end; then it runs the collected code through
//   the raw REPL (whose "OK" it drops, as raw-paste has none).
// - Soft reset (Ctrl-D on an empty line, or SystemExit): "MPY: soft reboot", a fresh
//   interpreter (RAM is gone), the same filesystem (it is flash); boot.py runs, then
//   main.py if the REPL was friendly; then the REPL again, in the mode it was in.
// - Hard reset (machine.reset(), as `mpremote reset` does it): the same in friendly mode,
//   so main.py runs. The filesystem survives both; it lives only as long as this process.
// - A running program reads the line: sys.stdin.buffer.read() takes bytes from the same
//   input the REPL reads, blocking until they arrive (a synchronous read of the pty, as a
//   board's UART read blocks). The REPL and programs take turns: bytes a program did not
//   read when it ended go to the REPL.
// - select.poll() on sys.stdin waits for the line with its timeout, as on a board.
// - Ctrl-C: while the interrupt character is set (code run from the REPL, main.py, unless
//   the program called micropython.kbd_intr(-1)), a 0x03 is not delivered: it schedules
//   KeyboardInterrupt and interrupts the blocked read (EINTR, as a signal does on the unix
//   port), so a program waiting for input stops at once.
// - Randomness: os.urandom is missing from the port; the JS module `kl_host` gives the
//   firmware Node's CSPRNG (as mp_runner.mjs does), the board's hardware RNG.

import fs from "node:fs";
import crypto from "node:crypto";
import { importMicroPython, mkdirs } from "./mp_common.mjs";

const LINE_IN = 0;
const LINE_OUT = 1;
const EINTR = 27; // Emscripten's errno numbers (wasi)
const POLLIN = 1;
const POLL_NAP_MS = 10;
const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const RAW_PASTE_WINDOW = 128; // half of pyexec.c's MICROPY_REPL_STDIN_BUFFER_MAX
const KEEP_OUT = new Set(["/dev", "/proc"]); // not flash: devices and process info

// The port raises OSError with Emscripten's (wasi) errno numbers, while its own `errno`
// module and every MicroPython board use the usual ones: a missing file is OSError 44 there
// but ENOENT (2) everywhere else, and mpremote, which reads errors from the traceback text,
// cannot tell that `fs cp` found no file. The board reports the usual numbers, as a board
// would: errors leaving the filesystem API are renumbered (EINTR and EAGAIN, which the
// port's C code acts on, stay as they are).
const BOARD_ERRNO = {
  1: 7, // E2BIG
  2: 13, // EACCES
  8: 9, // EBADF
  10: 16, // EBUSY
  20: 17, // EEXIST
  28: 22, // EINVAL
  29: 5, // EIO
  31: 21, // EISDIR
  33: 24, // EMFILE
  37: 36, // ENAMETOOLONG
  43: 19, // ENODEV
  44: 2, // ENOENT
  48: 12, // ENOMEM
  51: 28, // ENOSPC
  54: 20, // ENOTDIR
  55: 39, // ENOTEMPTY
  58: 95, // ENOTSUP -> EOPNOTSUPP
  63: 1, // EPERM
  69: 30, // EROFS
  70: 29, // ESPIPE
  75: 18, // EXDEV
};
const FS_CALLS = ["stat", "lstat", "fstat", "open", "close", "read", "write", "llseek", "mkdir", "rmdir", "unlink", "rename", "readdir", "chdir", "readlink", "truncate", "ftruncate", "getStreamChecked", "utime", "chmod", "symlink"];

function renumberErrors(FS) {
  for (const name of FS_CALLS) {
    const call = FS[name];
    if (typeof call !== "function") continue;
    FS[name] = function (...args) {
      try {
        return call.apply(this, args);
      } catch (err) {
        if (err && err.name === "ErrnoError" && !err.renumbered && err.errno in BOARD_ERRNO) {
          const mapped = new FS.ErrnoError(BOARD_ERRNO[err.errno]);
          mapped.renumbered = true;
          throw mapped;
        }
        if (err && err.name === "ErrnoError") err.renumbered = true;
        throw err;
      }
    };
  }
}


function parseArgs(argv) {
  const opts = { heap: 8 * 1024 * 1024 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--heap") opts.heap = parseInt(argv[++i], 10);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])}`);
  }
  return opts;
}

function log(msg) {
  try {
    fs.writeSync(2, `mp_board: ${msg}\n`);
  } catch (err) {
    // nobody listens
  }
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// --- the serial line ------------------------------------------------------------------

class Line {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.out = [];
    this.mute = false; // output of a board that is resetting goes nowhere
    this.closed = false;
  }

  write(bytes) {
    if (this.mute) return;
    for (const b of bytes) this.out.push(b);
    if (this.out.length >= 4096) this.flush();
  }

  writeStr(s) {
    this.write(Buffer.from(s, "latin1"));
  }

  flush() {
    if (!this.out.length || this.closed) {
      this.out = [];
      return;
    }
    const data = Buffer.from(this.out);
    this.out = [];
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(LINE_OUT, data, off, data.length - off);
      } catch (err) {
        if (err.code === "EAGAIN") {
          sleepMs(2);
          continue;
        }
        this.closed = true; // the host side is gone
        return;
      }
    }
  }

  // Blocks until bytes arrive (or, with `wait` false, only looks); false when there are
  // none, and for good at the end of the line (every host handle closed). The line is
  // non-blocking (EmulatedBoard makes it so) and waiting is sleeping in 2 ms steps; a
  // blocking line works too, without poll().
  fill(wait = true) {
    this.flush();
    if (this.closed) return false;
    if (this.pos < this.buf.length) return true;
    const chunk = Buffer.alloc(4096);
    for (;;) {
      try {
        const n = fs.readSync(LINE_IN, chunk, 0, chunk.length, null);
        if (n === 0) break;
        this.buf = chunk.subarray(0, n);
        this.pos = 0;
        return true;
      } catch (err) {
        if (err.code === "EAGAIN") {
          if (!wait) return false;
          sleepMs(2);
          continue;
        }
        if (err.code !== "EIO") log(`read: ${err.message}`);
        break;
      }
    }
    this.closed = true;
    return false;
  }

  // The next byte from the host, blocking; -1 once the line is closed.
  next() {
    if (this.pos >= this.buf.length && !this.fill()) return -1;
    return this.buf[this.pos++];
  }

  pending() {
    return this.buf.length - this.pos;
  }

  peek() {
    return this.buf[this.pos];
  }
}

// --- the board --------------------------------------------------------------------------

class Board {
  constructor(loadMicroPython, opts) {
    this.load = loadMicroPython;
    this.opts = opts;
    this.line = new Line();
    this.mp = null;
    this.files = []; // the flash, carried across resets: [path, Uint8Array | null (a folder)]
    this.raw = false; // the REPL's mode
    this.rawLineLen = 0; // bytes in the raw REPL's current line
    this.swallow = ""; // output the board drops (the raw REPL's "OK" after a raw paste)
    this.resetRequested = null; // "hard" when machine.reset() was called
    this.said = ""; // the REPL's latest output, to see it switch to raw mode
    this.retired = [];
  }

  // A fresh interpreter with the flash restored: power-up, soft or hard reset.
  async boot() {
    if (this.mp) {
      this.files = this.snapshot();
      // The port's JS glue is one per process: the old interpreter's proxies must never be
      // finalized against the new one, so they are kept (they hold no wasm memory).
      this.retired.push(this.mp.globals);
    }
    const line = this.line;
    this.mp = await this.load({
      heapsize: this.opts.heap,
      linebuffer: false,
      stdout: (bytes) => this.output(bytes),
      stderr: (bytes) => this.output(bytes),
    });
    const FS = this.mp.FS;
    for (const [p, data] of this.files) {
      if (data === null) mkdirs(FS, p);
      else FS.writeFile(p, data);
    }
    this.installStdin();
    renumberErrors(FS);
    this.mp.registerJsModule("kl_host", { urandom: (n) => crypto.randomBytes(n) });
    this.mp.registerJsModule("machine", {
      reset: () => this.requestReset(),
      soft_reset: () => this.requestReset("soft"),
    });
    line.mute = false;
  }

  output(bytes) {
    this.said = (this.said + Buffer.from(bytes).toString("latin1")).slice(-64);
    for (const b of bytes) {
      if (this.swallow && b === this.swallow.charCodeAt(0)) {
        this.swallow = this.swallow.slice(1);
        continue;
      }
      this.swallow = "";
      this.line.write([b]);
    }
  }

  requestReset(kind = "hard") {
    // The board stops here: nothing more reaches the line, and the program is interrupted.
    this.resetRequested = kind;
    this.line.flush();
    this.line.mute = true;
    this.mp._module._mp_sched_keyboard_interrupt();
  }

  snapshot() {
    const FS = this.mp.FS;
    const files = [];
    const walk = (dir) => {
      for (const name of FS.readdir(dir)) {
        if (name === "." || name === "..") continue;
        const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
        if (KEEP_OUT.has(p)) continue;
        const st = FS.stat(p);
        if (FS.isDir(st.mode)) {
          files.push([p, null]);
          walk(p);
        } else if (FS.isFile(st.mode)) {
          files.push([p, FS.readFile(p)]);
        }
      }
    };
    walk("/");
    return files;
  }

  // sys.stdin reads the line: blocking, and interruptible by the interrupt character.
  installStdin() {
    const mod = this.mp._module;
    const FS = this.mp.FS;
    const line = this.line;
    const stream = FS.getStream(0);
    stream.stream_ops = Object.assign({}, stream.stream_ops, {
      read: (_stream, buffer, offset, length) => {
        if (length === 0) return 0;
        const intr = mod._mp_hal_get_interrupt_char();
        const c = line.next();
        if (c < 0) return 0; // end of the line: EOF
        if (c === intr) {
          mod._mp_sched_keyboard_interrupt();
          throw new FS.ErrnoError(EINTR);
        }
        buffer[offset] = c;
        let n = 1;
        // hand over what has arrived already, without waiting for more
        while (n < length && line.pending() && line.peek() !== intr) buffer[offset + n++] = line.next();
        return n;
      },
      // select.poll() on sys.stdin: MicroPython asks with timeout 0 and loops until its own
      // timeout; each empty answer sleeps a little so a waiting program does not spin.
      poll: () => {
        if (line.fill(false) || line.closed) return POLLIN;
        sleepMs(POLL_NAP_MS);
        return line.fill(false) || line.closed ? POLLIN : 0;
      },
    });
  }

  exists(p) {
    try {
      return this.mp.FS.isFile(this.mp.FS.stat(p).mode);
    } catch (err) {
      return false;
    }
  }

  // boot.py / main.py, as pyexec_file runs them: Ctrl-C enabled, a traceback on error.
  runFile(p) {
    if (!this.exists(p)) return;
    const name = p.replace(/^\//, "");
    try {
      this.mp.runPython("import micropython\nmicropython.kbd_intr(3)");
      this.mp.runPython(`exec(compile(open(${JSON.stringify(p)}).read(), ${JSON.stringify(name)}, "exec"))`);
    } catch (err) {
      if (err.name !== "PythonError") throw err;
      if (err.type !== "SystemExit") this.line.writeStr(err.message.replace(/\r?\n/g, "\r\n"));
    } finally {
      if (!this.resetRequested) this.mp.runPython("import micropython\nmicropython.kbd_intr(-1)");
    }
  }

  // Boot and start the REPL; main.py runs unless the REPL is raw (as on a board).
  async start(kind) {
    for (;;) {
      if (kind === "soft") this.line.writeStr("MPY: soft reboot\r\n");
      if (kind === "hard") this.raw = false;
      this.resetRequested = null;
      await this.boot();
      this.runFile("/boot.py");
      if (!this.raw && !this.resetRequested) this.runFile("/main.py");
      if (this.resetRequested) {
        kind = this.resetRequested;
        continue;
      }
      break;
    }
    if (this.raw) {
      this.line.mute = true;
      this.mp.replInit();
      this.line.mute = false;
      this.mp.replProcessChar(CTRL_A); // prints "raw REPL; CTRL-B to exit\r\n>"
    } else {
      this.mp.replInit(); // the banner and >>>
    }
    this.rawLineLen = 0;
  }

  // One byte to the REPL; the kind of reset it asked for, if any.
  toRepl(c) {
    this.said = "";
    const ret = this.mp.replProcessChar(c);
    if (this.raw) {
      if (c === CTRL_B) this.raw = false;
      else if (c === CTRL_A || c === CTRL_C || c === CTRL_D) this.rawLineLen = 0;
      else this.rawLineLen++;
    } else if (c === CTRL_A) {
      if (this.said.includes("raw REPL; CTRL-B to exit")) {
        this.raw = true;
        this.rawLineLen = 0;
      }
    }
    if (this.resetRequested) return this.resetRequested;
    return ret ? "soft" : null; // PYEXEC_FORCED_EXIT: Ctrl-D on an empty line, or SystemExit
  }

  // Raw-paste mode: flow-controlled code upload, then run it as the raw REPL runs code.
  rawPaste() {
    const line = this.line;
    line.write([0x52, 0x01, RAW_PASTE_WINDOW & 0xff, RAW_PASTE_WINDOW >> 8, 0x01]);
    const code = [];
    let remain = RAW_PASTE_WINDOW;
    for (;;) {
      const c = line.next();
      if (c < 0) return null;
      if (c === CTRL_D) break;
      if (c === CTRL_C) {
        line.write([CTRL_D]);
        line.writeStr("\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>");
        return null;
      }
      code.push(c);
      if (--remain === 0) {
        line.write([0x01]);
        remain = RAW_PASTE_WINDOW;
      }
    }
    line.write([CTRL_D]); // end of data acknowledged
    if (!code.length) {
      line.writeStr("\x04\x04>"); // nothing to run (the raw REPL would take it for a soft reset)
      return null;
    }
    for (const c of code) {
      // The raw REPL's control bytes cannot be in its line; mpremote sends source text.
      if (c >= CTRL_A && c <= CTRL_E) continue;
      this.mp.replProcessChar(c);
    }
    this.swallow = "OK";
    return this.toRepl(CTRL_D);
  }

  async run() {
    await this.start("power-on");
    const line = this.line;
    for (;;) {
      let c = line.next();
      if (c < 0) break;
      let reset = null;
      if (this.raw && this.rawLineLen === 0 && c === CTRL_E) {
        const held = [c];
        for (const want of [0x41, CTRL_A]) {
          const d = line.next();
          if (d < 0) break;
          held.push(d);
          if (d !== want) break;
        }
        if (held.length === 3 && held[1] === 0x41 && held[2] === CTRL_A) {
          reset = this.rawPaste();
        } else {
          for (const d of held) reset = this.toRepl(d) || reset;
        }
      } else {
        reset = this.toRepl(c);
      }
      if (reset) await this.start(reset);
    }
    line.flush();
  }
}


async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { loadMicroPython } = await importMicroPython();
  await new Board(loadMicroPython, opts).run();
}

main().then(
  () => process.exit(0),
  (err) => {
    log(err && err.stack ? err.stack.split("\n").slice(0, 3).join(" | ") : String(err));
    process.exit(2);
  },
);
