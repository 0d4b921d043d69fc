// Run a MicroPython script on the 32-bit MicroPython of the toolchain: the WebAssembly
// port (npm @micropython/micropython-webassembly-pyscript, pinned in package-lock.json),
// under Node.
//
//   node host_tools/mpy32/run.mjs [--heap 2M] [--copy PATH]... SCRIPT [ARG]...
//
// That port sees only its own in-memory filesystem, so each --copy PATH (a file or a
// directory, relative to the current directory) is copied into it at the same absolute
// path, and the current directory is the same there: the script finds firmware/ and
// tests/ where it would on the unix port. Nothing is written back. The exit status is the
// script's (sys.exit), 1 on an uncaught exception.
// boot32.py runs first: it makes the port's platform edges (errno numbers, os, sys, the
// microsecond clock) look like the unix port's and the ESP32's.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = "@micropython/micropython-webassembly-pyscript";

function usage(msg) {
  process.stderr.write(`mpy32: ${msg}\nusage: node run.mjs [--heap 2M] [--copy PATH]... SCRIPT [ARG]...\n`);
  process.exit(2);
}

function parseSize(s) {
  const m = /^(\d+)([kKmM]?)$/.exec(s);
  if (!m) usage(`bad heap size ${s}`);
  const mul = { "": 1, k: 1024, m: 1048576 }[m[2].toLowerCase()];
  return parseInt(m[1], 10) * mul;
}

function parseArgs(argv) {
  const opts = { heap: 2 * 1048576, copies: [], script: null, args: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--heap") opts.heap = parseSize(argv[++i] || "");
    else if (a === "--copy") opts.copies.push(argv[++i] || usage("--copy needs a path"));
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else break;
  }
  if (i >= argv.length) usage("no script");
  opts.script = path.resolve(argv[i]);
  opts.args = argv.slice(i + 1);
  return opts;
}

function mkdirs(FS, dir) {
  let cur = "";
  for (const part of dir.split("/").filter(Boolean)) {
    cur += "/" + part;
    try {
      FS.mkdir(cur);
    } catch (e) {
      // already there
    }
  }
}

function copyIn(FS, hostPath) {
  const st = fs.statSync(hostPath);
  if (st.isDirectory()) {
    mkdirs(FS, hostPath);
    for (const name of fs.readdirSync(hostPath)) {
      if (name === "__pycache__" || name.startsWith(".")) continue;
      copyIn(FS, path.join(hostPath, name));
    }
  } else if (st.isFile()) {
    mkdirs(FS, path.dirname(hostPath));
    FS.writeFile(hostPath, fs.readFileSync(hostPath));
  }
}

// Runs the script as __main__ with its __file__ (after boot32.py); returns its exit status.
const MAIN = `
import sys


def _mpy32_main(path, argv_json):
    import json

    sys.argv[:] = json.loads(argv_json)
    with open(path) as f:
        src = f.read()
    g = {"__name__": "__main__", "__file__": path}
    try:
        exec(compile(src, path, "exec"), g)
    except SystemExit as e:
        code = e.args[0] if e.args else 0
        if code is None:
            return 0
        if not isinstance(code, int):
            print(code)
            return 1
        return code
    except BaseException as e:  # noqa: BLE001 - reported as the unix port would
        sys.print_exception(e)
        return 1
    return 0


def _mpy32_step():
    """One step of the work handed to run_steps(): None while there is more, else the
    exit status."""
    try:
        if _Steps.steps is not None:
            try:
                next(_Steps.steps)
                gc.collect()  # at the top level, when this call returns
                return None
            except StopIteration:
                _Steps.steps = None
            if _Steps.done is not None:
                _Steps.done()
        return 0
    except SystemExit as e:
        code = e.args[0] if e.args else 0
        return code if isinstance(code, int) else 1
    except BaseException as e:  # noqa: BLE001 - reported as the unix port would
        sys.print_exception(e)
        return 1
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const modPath = path.join(HERE, "node_modules", PKG, "micropython.mjs");
  if (!fs.existsSync(modPath)) {
    process.stderr.write(`mpy32: ${modPath} missing (make mpy32 installs it)\n`);
    process.exit(2);
  }
  const { loadMicroPython } = await import(modPath);
  const out = (t) => process.stdout.write(t);
  const mp = await loadMicroPython({ heapsize: opts.heap, stdout: out, stderr: out, linebuffer: false });
  // time.ticks_us of the port follows Date.now() (1 ms steps); boot32.py puts this
  // microsecond clock under it, as the chip's (ticks wrap at 2**30 like the ESP32's)
  mp.registerJsModule("mpy32_host", {
    ticks_us: () => Math.floor(performance.now() * 1000) % 1073741824,
  });
  const FS = mp.FS;
  for (const c of opts.copies) copyIn(FS, path.resolve(c));
  copyIn(FS, opts.script);
  mkdirs(FS, process.cwd());
  mkdirs(FS, "/tmp");
  FS.chdir(process.cwd());
  mp.runPython(fs.readFileSync(path.join(HERE, "boot32.py"), "utf8"));
  mp.runPython(MAIN);
  const main = mp.globals.get("_mpy32_main");
  let rc = main(opts.script, JSON.stringify([opts.script, ...opts.args]));
  if (rc === 0) {
    // the steps the script handed over (boot32.py run_steps), one per call: the port
    // collects garbage between two calls only
    const step = mp.globals.get("_mpy32_step");
    do {
      rc = step();
    } while (rc === null || rc === undefined);
  }
  mp.runPython("run_atexit()");
  process.exitCode = typeof rc === "number" ? rc : 1;
}

main().catch((e) => {
  process.stderr.write(`mpy32: ${e && e.stack ? e.stack : e}\n`);
  process.exitCode = 1;
});
